#!/usr/bin/env python
import os
import secrets
import sys

# Commands that only write or check code: they never serve a request or sign
# anything, so they run without a SECRET_KEY (a throwaway one for this process).
KEYLESS_COMMANDS = {"makemigrations"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    if sys.argv[1:2] and sys.argv[1] in KEYLESS_COMMANDS:
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    from django.conf import settings
    from django.core.management import execute_from_command_line

    # Loaded here so that a settings error (SECRET_KEY missing, a bad value) is
    # what the command reports: Django's command line swallows it and fails
    # later with AppRegistryNotReady.
    settings.INSTALLED_APPS  # noqa: B018
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
