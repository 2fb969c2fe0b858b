"""The time zone names Callboard accepts: a workspace's, a calling window's, a
schedule's. The host's zone files list a few names that are not zones."""

import functools
import zoneinfo

# Files of the zone directory that name no zone: "localtime" is the host's own
# zone (a schedule in it would run at another instant on each host), "Factory" a
# placeholder, "posixrules" a template.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def known_zones() -> frozenset[str]:
    """Every IANA name, its backward-compatible links ("UTC", "GMT", "US/Eastern") too,
    spelled exactly (case matters). Read once: listing the zone directory takes ms."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES
