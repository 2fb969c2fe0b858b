"""Calling windows: when a campaign may dial, in the workspace's zone, a named zone,
or each contact's own (docs/campaigns.md "Calling window")."""

import phonenumbers
from phonenumbers import timezone as number_zones

# phonenumbers' answer for a number it cannot place.
_UNKNOWN_ZONE = "Etc/Unknown"


def zone_for_number(number: str | phonenumbers.PhoneNumber) -> str:
    """The IANA zone of a number (E.164 text, or one phonenumbers already parsed), or ""
    when the number spans several zones or none is known: the workspace's zone then
    applies."""
    if isinstance(number, str):
        try:
            number = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return ""
    zones = [zone for zone in number_zones.time_zones_for_number(number) if zone != _UNKNOWN_ZONE]
    return zones[0] if len(zones) == 1 else ""
