"""A lead's time zone from its phone number, and phone numbers as people read them.

Real numbers (public switchboards of councils and landmarks, the UK's drama
ranges) of every region the demo and our users have: each must come out in
the zone whose clock the person picking up lives by.
"""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
import pytest

from leadqueue.contact import (
    ZONE_BY_PREFIX,
    display_phone,
    normalize_phone,
    zone_for_number,
)

REAL_NUMBERS = [
    # United States: one zone per area code, Arizona without DST.
    ("+1 212 639 9675", "US", "America/New_York"),      # New York City
    ("+1 312 744 5000", "US", "America/Chicago"),       # Chicago City Hall
    ("+1 720 913 1311", "US", "America/Denver"),        # Denver
    ("+1 602 262 6011", "US", "America/Phoenix"),       # Phoenix
    ("+1 213 473 3231", "US", "America/Los_Angeles"),   # Los Angeles
    ("+1 800 555 0100", "US", "America/New_York"),      # toll-free: the preferred zone
    # United Kingdom: landlines, and mobiles (which phonenumbers maps to the
    # UK and the Crown Dependencies alike).
    ("+44 20 7946 0018", "GB", "Europe/London"),        # London
    ("+44 161 496 0000", "GB", "Europe/London"),        # Manchester
    ("+44 131 496 0000", "GB", "Europe/London"),        # Edinburgh
    ("+44 7400 123456", "GB", "Europe/London"),         # mobile
    ("+44 7911 234567", "GB", "Europe/London"),         # mobile
    ("07700 123456", "GB", "Europe/London"),            # mobile, written nationally
    ("+44 7781 123456", "GG", "Europe/Guernsey"),       # a Guernsey mobile
    ("+44 7797 123456", "JE", "Europe/Jersey"),         # a Jersey mobile
    # Germany
    ("+49 30 90260", "DE", "Europe/Berlin"),            # Berlin, Rotes Rathaus
    ("+49 89 23300", "DE", "Europe/Berlin"),            # Munich
    ("+49 151 23456789", "DE", "Europe/Berlin"),        # mobile
    # Australia, state by state.
    ("+61 2 9250 7111", "AU", "Australia/Sydney"),      # NSW: Sydney Opera House
    ("+61 2 6277 7111", "AU", "Australia/Sydney"),      # ACT: Parliament House
    ("+61 3 9658 9658", "AU", "Australia/Melbourne"),   # VIC: City of Melbourne
    ("+61 3 5272 5272", "AU", "Australia/Melbourne"),   # VIC: Geelong
    ("+61 3 6238 2711", "AU", "Australia/Hobart"),      # TAS: City of Hobart
    ("+61 7 3403 8888", "AU", "Australia/Brisbane"),    # QLD: Brisbane City Council
    ("+61 7 5582 8211", "AU", "Australia/Brisbane"),    # QLD: City of Gold Coast
    ("+61 7 4044 3044", "AU", "Australia/Brisbane"),    # QLD: Cairns
    ("+61 8 8203 7203", "AU", "Australia/Adelaide"),    # SA: City of Adelaide
    ("+61 8 8721 2555", "AU", "Australia/Adelaide"),    # SA: Mount Gambier
    ("+61 8 8930 0300", "AU", "Australia/Darwin"),      # NT: City of Darwin
    ("+61 8 8950 0500", "AU", "Australia/Darwin"),      # NT: Alice Springs
    ("+61 8 9461 3333", "AU", "Australia/Perth"),       # WA: City of Perth
    ("+61 8 9021 9600", "AU", "Australia/Perth"),       # WA: Kalgoorlie
    ("+61 8 8080 3300", "AU", "Australia/Broken_Hill"),  # far west NSW, SA's clock
    ("+61 412 345 678", "AU", "Australia/Sydney"),      # mobile: the preferred zone
    ("+61 8 9164 1234", "CX", "Indian/Christmas"),      # phonenumbers' finer answer stays
]


@pytest.mark.parametrize(("raw", "region", "zone"), REAL_NUMBERS,
                         ids=[r[0] for r in REAL_NUMBERS])
def test_real_numbers_get_the_zone_of_where_they_ring(raw: str, region: str, zone: str) -> None:
    result = normalize_phone(raw, "GB" if raw.startswith("0") else None)
    assert result.ok, raw
    assert (result.region, result.timezone) == (region, zone)


def test_adelaide_and_perth_differ_although_phonenumbers_lists_both() -> None:
    from phonenumbers import timezone as phone_timezone

    adelaide = phonenumbers.parse("+61 8 8203 7203")
    perth = phonenumbers.parse("+61 8 9461 3333")
    both = ("Australia/Adelaide", "Australia/Perth")
    # What the library says (why the numbering plan has to decide) ...
    assert tuple(sorted(phone_timezone.time_zones_for_number(adelaide))) == both
    assert tuple(sorted(phone_timezone.time_zones_for_number(perth))) == both
    # ... and what we say: 1.5 to 2.5 hours apart, depending on the season.
    assert zone_for_number(adelaide) == "Australia/Adelaide"
    assert zone_for_number(perth) == "Australia/Perth"


def test_queensland_numbers_are_brisbane_although_phonenumbers_says_sydney() -> None:
    from phonenumbers import timezone as phone_timezone

    gold_coast = phonenumbers.parse("+61 7 5582 8211")
    assert phone_timezone.time_zones_for_number(gold_coast) == ("Australia/Sydney",)
    assert zone_for_number(gold_coast) == "Australia/Brisbane"


# Places phonenumbers' geocoder names in the split areas, and their clocks.
PLACES = {
    "Melbourne": "Australia/Melbourne", "Geelong": "Australia/Melbourne",
    "Ballarat": "Australia/Melbourne", "Bendigo": "Australia/Melbourne",
    "Shepparton": "Australia/Melbourne", "Warrnambool": "Australia/Melbourne",
    "Hobart": "Australia/Hobart", "Launceston": "Australia/Hobart",
    "Burnie": "Australia/Hobart", "Devonport": "Australia/Hobart",
    "Brisbane": "Australia/Brisbane", "Southport": "Australia/Brisbane",
    "Cairns": "Australia/Brisbane", "Townsville": "Australia/Brisbane",
    "Toowoomba": "Australia/Brisbane", "Rockhampton": "Australia/Brisbane",
    "Mackay": "Australia/Brisbane", "Ipswich": "Australia/Brisbane",
    "Adelaide": "Australia/Adelaide", "Mount Gambier": "Australia/Adelaide",
    "Whyalla": "Australia/Adelaide", "Port Augusta": "Australia/Adelaide",
    "Port Lincoln": "Australia/Adelaide", "Murray Bridge": "Australia/Adelaide",
    "Darwin": "Australia/Darwin", "Alice Springs": "Australia/Darwin",
    "Katherine": "Australia/Darwin", "Nhulunbuy": "Australia/Darwin",
    "Broken Hill": "Australia/Broken_Hill",
    "Perth": "Australia/Perth", "Fremantle": "Australia/Perth",
    "Kalgoorlie": "Australia/Perth", "Geraldton": "Australia/Perth",
    "Bunbury": "Australia/Perth", "Karratha": "Australia/Perth",
    "Port Hedland": "Australia/Perth", "Broome": "Australia/Perth",
}


def test_every_block_of_the_split_areas_matches_the_place_phonenumbers_names() -> None:
    """phonenumbers' geocoder knows the town of each block; the town's clock
    must be the zone we give (an independent check of :data:`ZONE_BY_PREFIX`)."""
    from phonenumbers.geodata import GEOCODE_DATA

    checked: dict[str, int] = {}
    for prefix, names in GEOCODE_DATA.items():
        if not prefix.startswith(("613", "617", "618")):
            continue
        place = names.get("en") if isinstance(names, dict) else names
        if place not in PLACES:
            continue
        number = _valid_number(prefix)
        if number is None or phonenumbers.region_code_for_number(number) != "AU":
            continue
        assert zone_for_number(number) == PLACES[place], (prefix, place)
        checked[PLACES[place]] = checked.get(PLACES[place], 0) + 1
    # Every zone of the table was checked, each many times.
    assert set(checked) == set(ZONE_BY_PREFIX.values()), checked
    assert min(checked.values()) >= 10, checked


def _valid_number(prefix: str) -> phonenumbers.PhoneNumber | None:
    """A valid Australian geographic number starting with ``prefix`` (E.164 digits)."""
    for fill in "1234567890":
        digits = (prefix + fill * 11)[:11]
        number = phonenumbers.parse("+" + digits)
        if phonenumbers.is_valid_number(number):
            return number
    return None


def test_queensland_keeps_no_daylight_saving() -> None:
    """What the 07 fix is for: in the Australian summer a Gold Coast lead's
    clock is an hour behind Sydney's, not the same."""
    from zoneinfo import ZoneInfo

    zone = normalize_phone("+61 7 5582 8211").timezone
    assert zone is not None
    january = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    assert january.astimezone(ZoneInfo(zone)).hour == 10
    assert january.astimezone(ZoneInfo("Australia/Sydney")).hour == 11


# -- display -----------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "shown"), [
    ("+61462385600", "+61 462 385 600"),
    ("+61882037203", "+61 8 8203 7203"),
    ("+442079460018", "+44 20 7946 0018"),
    ("+447400123456", "+44 7400 123456"),
    ("+4930902600", "+49 30 902600"),
    ("+12126399675", "+1 212-639-9675"),
])
def test_display_phone_is_international_format(stored: str, shown: str) -> None:
    assert display_phone(stored) == shown


@pytest.mark.parametrize("raw", ["ask reception", "+61 12", "0800-CALL-US", "", None])
def test_display_phone_keeps_text_that_is_no_number(raw: str | None) -> None:
    assert display_phone(raw) == raw
