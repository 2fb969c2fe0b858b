"""Stock django-eventstream 5.3.4, wired as its README says, for the baseline."""
