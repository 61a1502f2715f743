"""Contact data normalisation: phone numbers to E.164, the lead's time zone, emails.

Phone parsing and the number → time zone lookup are ``phonenumbers``' job (far
better than any regex of ours). A phone that does not parse, or a zone nobody
knows, is *data*, not an error: the caller keeps the raw text and flags the
lead with a :class:`~leadqueue.enums.DataIssue`, so the rep sees why a number
cannot be dialled or why the lead's local time is a guess.

``phonenumbers`` is imported where a number is parsed, not with this module:
importing it costs about 15 ms, and the app's first paint (issue 3: cold
start) shows a stored number in the display form written beside it
(``leads.phone_display``, see :func:`display_phone`) without parsing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .enums import DataIssue

if TYPE_CHECKING:
    import phonenumbers

#: What ``phonenumbers`` answers when it cannot place a number.
UNKNOWN_ZONE = "Etc/Unknown"

#: When a number maps to several zones (mobiles, toll-free), the zone where most
#: of the country's people live. Deterministic, and right far more often than
#: the alphabetically first zone (Australia/Adelaide, America/Adak).
PREFERRED_ZONES: dict[str, tuple[str, ...]] = {
    "US": ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver"),
    "CA": ("America/Toronto", "America/Vancouver", "America/Edmonton", "America/Winnipeg"),
    "AU": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Perth",
           "Australia/Adelaide"),
    "BR": ("America/Sao_Paulo",),
    "MX": ("America/Mexico_City",),
    "RU": ("Europe/Moscow",),
    "ID": ("Asia/Jakarta",),
    "NZ": ("Pacific/Auckland",),
    "ES": ("Europe/Madrid",),
    "PT": ("Europe/Lisbon",),
}


@dataclass(frozen=True)
class PhoneResult:
    """The outcome of normalising one phone number.

    ``e164`` is None when the text is not a valid number; ``issue`` then says
    so, and the caller keeps the raw text. ``display`` is the number as people
    read it (:func:`display_phone`), stored beside it as ``leads.phone_display``.
    """

    e164: str | None
    region: str | None
    timezone: str | None
    issue: DataIssue | None = None
    display: str | None = None

    @property
    def ok(self) -> bool:
        return self.issue is None


def valid_timezone(name: str | None) -> bool:
    """True when ``name`` is an IANA zone this machine knows (zoneinfo/tzdata)."""
    if not name or not isinstance(name, str) or name == UNKNOWN_ZONE:
        return False
    return _zone_exists(name)


@lru_cache(maxsize=1024)
def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: a malformed key such as "../etc" or an absolute path.
        return False
    return True


#: Where ``phonenumbers``' zone table is coarser than the numbering plan, the
#: plan's zone for a block of geographic numbers (E.164 digits; the longest
#: matching prefix wins). Australia's 07 is all Queensland, which keeps no
#: daylight saving, yet ``phonenumbers`` answers Sydney for most of it; its 08 is
#: South Australia, the Northern Territory and Western Australia (three clocks),
#: yet ``phonenumbers`` answers "Adelaide or Perth" for nearly all of it; its 03
#: is Victoria and Tasmania, answered as Sydney (the same clock, another state).
#: Checked block by block against ``phonenumbers``' own place names in
#: ``tests/test_contact.py``.
ZONE_BY_PREFIX: dict[str, str] = {
    "613": "Australia/Melbourne",      # 03: Victoria
    "6136": "Australia/Hobart",        # 03 6: Tasmania
    "617": "Australia/Brisbane",       # 07: Queensland
    "61851": "Australia/Perth",        # 08 51: remote Western Australia
    "6186": "Australia/Perth",         # 08 6: Western Australia
    "6187": "Australia/Adelaide",      # 08 7: South Australia
    "61879": "Australia/Darwin",       # 08 79: Northern Territory
    "61880": "Australia/Broken_Hill",  # 08 80: far west NSW, on South Australia's clock
    "6188": "Australia/Adelaide",      # 08 8: South Australia
    "61889": "Australia/Darwin",       # 08 89: Northern Territory
    "6189": "Australia/Perth",         # 08 9: Western Australia
}
#: The regions :data:`ZONE_BY_PREFIX` speaks for (Christmas Island shares 08 91
#: with Western Australia, and ``phonenumbers`` places it itself).
_PLAN_REGIONS = frozenset({"AU"})


def zone_for_number(number: phonenumbers.PhoneNumber) -> str | None:
    """The lead's time zone from its number, or None when the number does not say.

    ``phonenumbers``' zone list for the number decides, except for geographic
    numbers in the blocks of :data:`ZONE_BY_PREFIX`, whose state the numbering
    plan tells more exactly. A number that maps to several zones (mobiles,
    toll-free) gets its region's preferred zone (:data:`PREFERRED_ZONES`), else
    the zone of its region's own fixed-line numbers (a UK mobile: London, a
    Jersey one: Jersey), else the first in sorted order.
    """
    import phonenumbers
    from phonenumbers import timezone as phone_timezone  # its prefix table: only when needed

    zones = [
        z for z in phone_timezone.time_zones_for_number(number)
        if z != UNKNOWN_ZONE and valid_timezone(z)
    ]
    if not zones:
        return None
    region = phonenumbers.region_code_for_number(number)
    planned = _plan_zone(number, region)
    if planned is not None:
        return planned
    if len(zones) == 1:
        return zones[0]
    for preferred in PREFERRED_ZONES.get(region or "", ()):
        if preferred in zones:
            return preferred
    home = _region_zone(region)
    if home in zones:
        return home
    # No preference known: the first in sorted order, so the answer never
    # depends on the library's list order.
    return sorted(zones)[0]


def _plan_zone(number: phonenumbers.PhoneNumber, region: str | None) -> str | None:
    """The numbering plan's zone for a geographic number of a split area, else None."""
    import phonenumbers

    if region not in _PLAN_REGIONS or not phonenumbers.is_number_geographical(number):
        return None
    digits = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    for length in range(min(len(digits), 6), 2, -1):
        zone = ZONE_BY_PREFIX.get(digits[:length])
        if zone is not None:
            return zone if valid_timezone(zone) else None
    return None


@lru_cache(maxsize=256)
def _region_zone(region: str | None) -> str | None:
    """The zone of ``region``'s example fixed-line number when it has exactly one."""
    if not region:
        return None
    import phonenumbers

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    if example is None:
        return None
    from phonenumbers import timezone as phone_timezone

    zones = phone_timezone.time_zones_for_number(example)
    return zones[0] if len(zones) == 1 else None


def normalize_phone(raw: str | None, default_region: str | None = None) -> PhoneResult:
    """Normalise ``raw`` to E.164 and derive its region and time zone.

    ``default_region`` (ISO 3166 alpha-2, e.g. the lead's country) is used for
    numbers written without a ``+`` country code. A number that does not parse
    or is not a valid number for its region gives ``PHONE_UNPARSEABLE``; a valid
    number whose zone cannot be told gives ``e164`` with ``timezone`` None and no
    issue (the caller decides whether an unknown zone matters).
    """
    if raw is None or not raw.strip():
        return PhoneResult(None, None, None, None)
    import phonenumbers

    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return PhoneResult(None, None, None, DataIssue.PHONE_UNPARSEABLE)
    if not phonenumbers.is_valid_number(number):
        return PhoneResult(None, None, None, DataIssue.PHONE_UNPARSEABLE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneResult(e164, phonenumbers.region_code_for_number(number),
                       zone_for_number(number), None,
                       phonenumbers.format_number(
                           number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))



def phone_and_zone(phone: str | None, country: str | None, zone: str | None
                   ) -> tuple[PhoneResult, str | None, list[str]]:
    """A lead's phone normalised, its time zone, and the flags for what did not normalise.

    A given ``zone`` is the lead's; one that is not an IANA zone is kept as
    given (nothing is lost) and flagged, so read it through
    :func:`valid_timezone` before handing it to zoneinfo. Without one, the
    phone's zone; a phone that does not tell it is flagged too.
    """
    issues: list[str] = []
    result = normalize_phone(phone, country)
    if result.issue is not None:
        issues.append(result.issue.value)
    if zone:
        if not valid_timezone(zone):
            issues.append(DataIssue.TIMEZONE_UNKNOWN.value)
    else:
        zone = result.timezone
        if zone is None and phone:
            issues.append(DataIssue.TIMEZONE_UNKNOWN.value)
    return result, zone, issues


_NOT_DIGITS = re.compile(r"\D")


def display_phone(phone: str | None, stored: str | None = None) -> str | None:
    """``phone`` as people read it, in international format (``+61 4 6238 5600``).

    Stored numbers are E.164; text that does not parse as a valid number (a
    flagged lead's raw phone) comes back unchanged, so the rep sees what was
    given. Links (``tel:``) keep using the E.164 text, never this.

    ``stored`` is the display form written with the number
    (``leads.phone_display``, from :attr:`PhoneResult.display`): shown as it
    is, without loading ``phonenumbers``, when it spells the digits of
    ``phone``. A writer that did not fill it, or a number changed without it,
    gets the number formatted here, so a stale display is never shown.
    """
    if (stored and phone and phone.startswith("+")
            and _NOT_DIGITS.sub("", stored) == phone[1:]):
        return stored
    return _formatted(phone)


@lru_cache(maxsize=4096)
def _formatted(phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return phone
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    if not phonenumbers.is_valid_number(number):
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# Deliberately modest: one @, a dotted domain, no spaces. Full RFC 5322 accepts
# addresses no mail server delivers to; this catches the typos that matter.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def normalize_email(raw: str | None) -> str | None:
    """Trimmed, lower-cased email; None for empty input.

    Raises ``ValueError`` naming the problem for text that is not an email.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"expected an email address as text, got {raw!r}")
    text = raw.strip()
    if not text:
        return None
    if not _EMAIL.match(text):
        raise ValueError(f"{raw!r} is not an email address (expected name@domain.tld)")
    return text.lower()
