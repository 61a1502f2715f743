"""The demo database: a realistic sales team and about 2,000 leads, alive at "now".

``write_demo_db`` builds a document in the public load format
(``docs/load-format.md``) and loads it with :func:`leadqueue.loader.load_document`,
so the demo exercises the same path as any outside tool. What the format does
not cover is added afterwards in the same run: each lead's score breakdown,
cadence enrollments consistent with each lead's history, customer accounts for
existing-account leads, and the default cadence with its templates
(:func:`leadqueue.engine.ensure_defaults`).

Deterministic: the same ``seed`` and the same anchor time ``now`` give the same
rows, ids included (every id comes from a seeded factory), so two runs produce
identical table contents. Nothing here reads the clock except the default
anchor.

The data is alive relative to ``now``: every rep has a few leads that arrived
minutes ago with first-response SLAs running (some about to breach, one
breached), promised callbacks due within minutes, overdue steps, snoozed
leads, and leads whose calling window is closed (Australian and German leads
during the US day), so the first screen of the app looks like a real day.

The team: two teams ("Americas" in New York; "EMEA & APAC" in London, with an
Australian rep), four reps each with a teammate as backup, one team lead per
team and one admin. Leads come from US, UK, German and Australian numbers that
``phonenumbers`` accepts as valid; the lead's time zone is derived from the
number by the loader.
"""

from __future__ import annotations

import os
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .enums import (
    ActivityKind,
    CallOutcome,
    Channel,
    Direction,
    DisqualifyReason,
    EnrollmentStatus,
    LeadClass,
    LeadStatus,
    NextStepKind,
    NoResponseReason,
    Role,
)
from .rules.cadence import DEFAULT_STEPS, step_due_at
from .rules.scoring import ScoreAction, ScoreFacts, score_lead

#: How far back the history goes.
HISTORY_DAYS = 90
DEFAULT_LEADS = 2000
WINDOW_START = "08:00"

# -- the team ------------------------------------------------------------------

EMAIL_DOMAIN = "leadqueue.example"

TEAMS: tuple[tuple[str, str], ...] = (
    ("Americas", "America/New_York"),
    ("EMEA & APAC", "Europe/London"),
)


@dataclass(frozen=True)
class _Person:
    name: str
    role: Role
    team: str | None
    timezone: str
    territory: str | None = None
    capacity: int = 40
    weight: int = 1

    @property
    def email(self) -> str:
        return self.name.lower().replace(" ", ".") + "@" + EMAIL_DOMAIN


REPS: tuple[_Person, ...] = (
    _Person("Alex Rivera", Role.REP, "Americas", "America/New_York", "US-East", 45, 2),
    _Person("Jordan Brooks", Role.REP, "Americas", "America/New_York", "US-East", 40, 2),
    _Person("Priya Shah", Role.REP, "Americas", "America/Chicago", "US-Central", 40, 2),
    _Person("Sam Whitaker", Role.REP, "Americas", "America/Los_Angeles", "US-West", 35, 1),
    _Person("Olivia Bennett", Role.REP, "EMEA & APAC", "Europe/London", "UK & Ireland", 40, 2),
    _Person("Harry Walsh", Role.REP, "EMEA & APAC", "Europe/London", "UK & Ireland", 35, 1),
    _Person("Lukas Becker", Role.REP, "EMEA & APAC", "Europe/Berlin", "DACH", 40, 2),
    _Person("Chloe Nguyen", Role.REP, "EMEA & APAC", "Australia/Sydney", "ANZ", 40, 2),
)
LEADS_: tuple[_Person, ...] = (
    _Person("Dana Morgan", Role.TEAM_LEAD, "Americas", "America/New_York", None, 10),
    _Person("Sophie Laurent", Role.TEAM_LEAD, "EMEA & APAC", "Europe/London", None, 10),
)
ADMIN = _Person("Morgan Lee", Role.ADMIN, None, "America/New_York", None, 0)

# -- where leads come from -----------------------------------------------------

#: (country, weight, [(phone pattern, state, territory), ...]). In a pattern,
#: ``{n}`` is n random digits, the first of them 2-9.
COUNTRIES: tuple[tuple[str, float, tuple[tuple[str, str, str], ...]], ...] = (
    ("US", 0.50, (
        ("+1 212 {3}{4}", "NY", "US-East"), ("+1 646 {3}{4}", "NY", "US-East"),
        ("+1 617 {3}{4}", "MA", "US-East"), ("+1 404 {3}{4}", "GA", "US-East"),
        ("+1 305 {3}{4}", "FL", "US-East"), ("+1 202 {3}{4}", "DC", "US-East"),
        ("+1 267 {3}{4}", "PA", "US-East"), ("+1 312 {3}{4}", "IL", "US-Central"),
        ("+1 214 {3}{4}", "TX", "US-Central"), ("+1 512 {3}{4}", "TX", "US-Central"),
        ("+1 713 {3}{4}", "TX", "US-Central"), ("+1 303 {3}{4}", "CO", "US-West"),
        ("+1 801 {3}{4}", "UT", "US-West"), ("+1 415 {3}{4}", "CA", "US-West"),
        ("+1 213 {3}{4}", "CA", "US-West"), ("+1 206 {3}{4}", "WA", "US-West"),
        ("+1 602 {3}{4}", "AZ", "US-West"),
    )),
    ("GB", 0.20, (
        ("+44 20 7{3}{4}", "England", "UK & Ireland"),
        ("+44 20 3{3}{4}", "England", "UK & Ireland"),
        ("+44 161 {3}{4}", "England", "UK & Ireland"),
        ("+44 121 {3}{4}", "England", "UK & Ireland"),
        ("+44 131 {3}{4}", "Scotland", "UK & Ireland"),
    )),
    ("DE", 0.15, (
        ("+49 30 {4}{4}", "Berlin", "DACH"), ("+49 89 {4}{4}", "Bavaria", "DACH"),
        ("+49 40 {4}{4}", "Hamburg", "DACH"), ("+49 69 {4}{4}", "Hesse", "DACH"),
        ("+49 221 {4}{4}", "North Rhine-Westphalia", "DACH"),
        ("+49 711 {4}{4}", "Baden-Württemberg", "DACH"),
        ("+49 151 {4}{4}", "", "DACH"),
    )),
    ("AU", 0.15, (
        ("+61 2 9{3}{4}", "NSW", "ANZ"), ("+61 2 8{3}{4}", "NSW", "ANZ"),
        ("+61 3 9{3}{4}", "VIC", "ANZ"), ("+61 7 3{3}{4}", "QLD", "ANZ"),
        ("+61 8 9{3}{4}", "WA", "ANZ"), ("+61 4{4}{4}", "", "ANZ"),
    )),
)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("James", "Mary", "Michael", "Jennifer", "David", "Linda", "Chris", "Emily",
           "Daniel", "Ashley", "Matthew", "Jessica", "Kevin", "Sarah", "Brian", "Megan",
           "Jason", "Lauren", "Carlos", "Maria", "Andre", "Keisha", "Ryan", "Nicole",
           "Ethan", "Hannah", "Tyler", "Rachel", "Marcus", "Alicia", "Wei", "Aisha"),
    "GB": ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily",
           "Charlie", "Sophie", "Thomas", "Grace", "William", "Poppy", "James", "Lily",
           "Alfie", "Freya", "Henry", "Evie", "Arjun", "Zara", "Callum", "Niamh"),
    "DE": ("Lukas", "Anna", "Jonas", "Lea", "Leon", "Hannah", "Felix", "Marie", "Paul",
           "Sophie", "Maximilian", "Laura", "Tobias", "Julia", "Florian", "Katharina",
           "Stefan", "Sabine", "Markus", "Claudia", "Jan", "Franziska", "Moritz", "Lena"),
    "AU": ("Jack", "Charlotte", "William", "Olivia", "Noah", "Mia", "Thomas", "Chloe",
           "Liam", "Isabella", "Lachlan", "Ruby", "Cooper", "Matilda", "Oscar", "Zoe",
           "Hamish", "Sienna", "Angus", "Harper", "Mitchell", "Jess", "Riley", "Tahlia"),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas",
           "Taylor", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
           "Clark", "Lewis", "Robinson", "Walker", "Young", "Chen", "Patel", "Kim", "Nguyen"),
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
           "Hall", "Wood", "Jackson", "Clarke", "Hughes", "Khan", "Murphy", "Campbell"),
    "DE": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
           "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein",
           "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
           "Hofmann", "Hartmann"),
    "AU": ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White",
           "Martin", "Anderson", "Thompson", "Nguyen", "Thomas", "Walker", "Harris", "Lee",
           "Ryan", "Robinson", "Kelly", "King", "Campbell", "O'Brien", "Murray", "Mitchell"),
}
COMPANY_A = ("Blue", "North", "Bright", "Summit", "Cedar", "Iron", "Harbor", "Silver",
             "Pine", "Atlas", "Nova", "Vertex", "Crescent", "Granite", "Maple", "Orbit",
             "Pioneer", "Quantum", "Red", "River", "Clear", "Lumen", "Keystone", "Beacon")
COMPANY_B = ("field", "line", "stone", "point", "wave", "gate", "bridge", "peak", "works",
             "forge", "path", "craft", "leaf", "spring")
COMPANY_C = ("Analytics", "Logistics", "Health", "Systems", "Labs", "Foods", "Capital",
             "Software", "Energy", "Retail", "Media", "Robotics", "Insurance", "Learning",
             "Manufacturing", "Security")
COMPANY_SUFFIX = {"US": ("", "", " Inc.", " LLC"), "GB": ("", " Ltd"), "DE": (" GmbH", " AG", ""),
                  "AU": ("", " Pty Ltd")}
SIZES = ((8, 40), (41, 200), (201, 1000), (1001, 5000), (5001, 25000))
TITLES = ("VP of Sales", "Head of Sales Operations", "Sales Director", "Revenue Operations Manager",
          "Chief Revenue Officer", "Inside Sales Manager", "Marketing Director", "CEO",
          "Founder", "Operations Manager", "IT Director", "Business Development Manager",
          "Head of Growth", "Customer Success Lead")
POOR_FIT_TITLES = ("Student", "Intern", "Freelance consultant", "Job seeker", "Sole trader")
PRODUCTS = ("Lead routing", "Sales dialer", "Cadence automation", "Pipeline analytics",
            "CRM sync", "Enterprise suite")

#: source -> (weight, class weights over HIGH, QUAL, EARLY, POOR)
SOURCES: dict[str, tuple[float, tuple[float, float, float, float]]] = {
    "Demo request": (0.14, (0.80, 0.15, 0.03, 0.02)),
    "Pricing page": (0.10, (0.65, 0.25, 0.05, 0.05)),
    "Inbound call": (0.06, (0.70, 0.25, 0.02, 0.03)),
    "Web form": (0.22, (0.20, 0.50, 0.15, 0.15)),
    "Referral": (0.08, (0.50, 0.40, 0.08, 0.02)),
    "Webinar": (0.14, (0.08, 0.32, 0.50, 0.10)),
    "Trade show": (0.10, (0.15, 0.45, 0.30, 0.10)),
    "Partner": (0.06, (0.30, 0.55, 0.12, 0.03)),
    "Content download": (0.10, (0.03, 0.22, 0.55, 0.20)),
}
_CLASS_ORDER = (LeadClass.HIGH_INTENT, LeadClass.QUALIFICATION_NEEDED, LeadClass.EARLY_STAGE,
                LeadClass.POOR_FIT)
#: Share of leads from existing customer accounts (they get class existing_account).
EXISTING_SHARE = 0.08

#: Per class: P(call connects), P(email reply), outcomes of a connected call
#: (meeting booked, interested -> callback, not interested).
CONNECT_P = {LeadClass.HIGH_INTENT: 0.42, LeadClass.EXISTING_ACCOUNT: 0.45,
             LeadClass.QUALIFICATION_NEEDED: 0.30, LeadClass.EARLY_STAGE: 0.20,
             LeadClass.POOR_FIT: 0.25}
REPLY_P = {LeadClass.HIGH_INTENT: 0.10, LeadClass.EXISTING_ACCOUNT: 0.12,
           LeadClass.QUALIFICATION_NEEDED: 0.07, LeadClass.EARLY_STAGE: 0.05,
           LeadClass.POOR_FIT: 0.03}
ON_CONNECT = {LeadClass.HIGH_INTENT: (0.50, 0.35, 0.15),
              LeadClass.EXISTING_ACCOUNT: (0.45, 0.40, 0.15),
              LeadClass.QUALIFICATION_NEEDED: (0.30, 0.40, 0.30),
              LeadClass.EARLY_STAGE: (0.12, 0.43, 0.45),
              LeadClass.POOR_FIT: (0.02, 0.18, 0.80)}

_TEMPLATE_SUBJECTS = {
    "Day 1 intro email": "Your question about {product}",
    "Day 2 resource email": "A guide for {company}",
    "Day 7 case study email": "How a team like {company} did it",
    "Day 14 break-up email": "Should I close your file?",
}
_CHANNEL_KIND = {Channel.CALL: NextStepKind.CALL, Channel.EMAIL: NextStepKind.EMAIL,
                 Channel.SMS: NextStepKind.SMS, Channel.SOCIAL: NextStepKind.SOCIAL}
_DIGITS = re.compile(r"\{(\d)\}")


# -- ids -----------------------------------------------------------------------


class SeededIds:
    """A version-7 UUID factory whose random bits come from a seeded generator.

    The loader calls it once per row in document order, so the same document
    and seed give the same ids; the time part keeps ids roughly time-ordered.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"leadqueue-demo-ids:{seed}")

    def __call__(self, at: datetime) -> uuid.UUID:
        ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
        value = ms << 80
        value |= 0x7 << 76
        value |= self._rng.getrandbits(12) << 64
        value |= 0b10 << 62
        value |= self._rng.getrandbits(62)
        return uuid.UUID(int=value)


# -- the generator -------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _sec(when: datetime) -> datetime:
    return when.replace(microsecond=0)


@dataclass
class _Lead:
    """One lead being generated, with its history."""

    ext: str
    country: str
    zone: str
    fields: dict[str, Any]
    owner: _Person
    lead_class: LeadClass
    priority: int
    created_at: datetime
    activities: list[dict[str, Any]] = field(default_factory=list)
    status: LeadStatus = LeadStatus.NEW
    #: Cadence bookkeeping for the enrollment row written after the load.
    cadence_steps_done: int = 0
    in_cadence: bool = False
    enrollment_end: tuple[EnrollmentStatus, str, datetime] | None = None
    replied: bool = False
    connected: bool = False
    meeting: bool = False
    score_breakdown: list[dict[str, Any]] = field(default_factory=list)
    #: One of the leads placed to make "now" look like a working day.
    scenario: bool = False


class _Generator:
    def __init__(self, *, leads: int, seed: int, now: datetime) -> None:
        self.n = leads
        self.rng = random.Random(f"leadqueue-demo:{seed}")
        self.now = _sec(now.astimezone(UTC))
        self.start = self.now - timedelta(days=HISTORY_DAYS)
        self.reps_by_territory: dict[str, list[_Person]] = {}
        for rep in REPS:
            assert rep.territory is not None
            self.reps_by_territory.setdefault(rep.territory, []).append(rep)
        self.team_reps = {t: [r for r in REPS if r.team == t] for t, _ in TEAMS}
        self.companies: dict[str, list[tuple[str, int, str]]] = {}
        self.customers: dict[str, list[tuple[str, int, str]]] = {}
        self._make_companies()
        self.leads: list[_Lead] = []
        self.used_phones: set[str] = set()
        self.used_names: set[tuple[str, str]] = set()
        self._pattern_zones: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------

    def pick(self, weights: dict[Any, float]) -> Any:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=round(self.rng.uniform(lo * 60, hi * 60)))

    def _make_companies(self) -> None:
        rng = self.rng
        seen: set[str] = set()
        for country, _w, _cities in COUNTRIES:
            pool = []
            while len(pool) < 90:
                base = rng.choice(COMPANY_A) + rng.choice(COMPANY_B)
                name = f"{base} {rng.choice(COMPANY_C)}"
                if name in seen:
                    continue
                seen.add(name)
                lo, hi = rng.choices(SIZES, weights=(30, 30, 20, 12, 8))[0]
                domain = base.lower() + ".example"
                pool.append((name + rng.choice(COMPANY_SUFFIX[country]), rng.randint(lo, hi),
                             domain))
            self.companies[country] = pool[:75]
            self.customers[country] = pool[75:]

    def phone(self, pattern: str, country: str) -> tuple[str, str]:
        """A valid number for ``country`` as people write it, and its zone."""
        import phonenumbers

        from .contact import normalize_phone

        for _ in range(200):
            raw = _DIGITS.sub(
                lambda m: "".join(str(self.rng.randint(0 if i else 2, 9))
                                  for i in range(int(m.group(1)))), pattern)
            result = normalize_phone(raw, country)
            if result.e164 is None or result.timezone is None or result.e164 in self.used_phones:
                continue
            number = phonenumbers.parse(result.e164, None)
            if not phonenumbers.is_valid_number(number):
                continue
            self.used_phones.add(result.e164)
            fmt = self.rng.choice((phonenumbers.PhoneNumberFormat.NATIONAL,
                                   phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                                   phonenumbers.PhoneNumberFormat.E164))
            return phonenumbers.format_number(number, fmt), result.timezone
        raise RuntimeError(f"no valid number for pattern {pattern!r}")  # pragma: no cover

    def pattern_zone(self, pattern: str, country: str) -> str:
        """The zone numbers of ``pattern`` usually map to (from one sample)."""
        from .contact import normalize_phone

        if pattern not in self._pattern_zones:
            sample = random.Random(pattern)
            for _ in range(50):
                raw = _DIGITS.sub(lambda m: "".join(
                    str(sample.randint(0 if i else 2, 9)) for i in range(int(m.group(1)))),
                    pattern)
                zone = normalize_phone(raw, country).timezone
                if zone:
                    self._pattern_zones[pattern] = zone
                    break
            else:  # pragma: no cover - every pattern here has valid numbers
                self._pattern_zones[pattern] = "UTC"
        return self._pattern_zones[pattern]

    def window_open(self, zone: str) -> bool:
        """The lead's calling window is open now and for the next 90 minutes."""
        from zoneinfo import ZoneInfo

        local = self.now.astimezone(ZoneInfo(zone))
        minutes = local.hour * 60 + local.minute
        return 8 * 60 <= minutes < 18 * 60 + 30

    def placed_lead(self, index: int, created_at: datetime, rep: _Person, *, open_: bool,
                    **kwargs: Any) -> _Lead:
        """A lead for ``rep`` whose calling window is open (or closed) now.

        Live leads come from where it is daytime: the rep's own territory when
        its day is on, else the nearest place where it is (a demo opened at
        any hour shows a working queue). ``open_=False`` picks a place where
        the window is closed (a lead the queue must hold back).
        """
        home = _home_country(rep)
        countries = ([home] + [c for c in ("US", "GB", "DE", "AU") if c != home] if open_
                     else [c for c in ("AU", "US", "GB", "DE") if c != home] + [home])

        def ok(zone: str) -> bool:
            return self.window_open(zone) is open_

        for country in countries:
            cities = next(c for code, _w, c in COUNTRIES if code == country)
            if not any(ok(self.pattern_zone(c[0], country)) for c in cities):
                continue
            for _ in range(6):
                lead = self.new_lead(index, created_at, country=country, owner=rep,
                                     zone_ok=ok, **kwargs)
                if ok(lead.zone):
                    return lead
        return self.new_lead(index, created_at, country=home, owner=rep, **kwargs)

    # -- one lead's identity -----------------------------------------------------

    def new_lead(self, index: int, created_at: datetime, *, country: str | None = None,
                 source: str | None = None, lead_class: LeadClass | None = None,
                 priority: int | None = None, owner: _Person | None = None,
                 zone_ok: Callable[[str], bool] | None = None) -> _Lead:
        rng = self.rng
        if country is None:
            country = rng.choices([c for c, _w, _ in COUNTRIES],
                                  weights=[w for _c, w, _ in COUNTRIES])[0]
        cities = next(c for code, _w, c in COUNTRIES if code == country)
        if owner is not None and owner.territory is not None:
            local = [c for c in cities if c[2] == owner.territory]
            cities = tuple(local) or cities
        if zone_ok is not None:
            cities = tuple(c for c in cities if zone_ok(self.pattern_zone(c[0], country))) \
                or cities
        pattern, state, territory = rng.choice(cities)
        phone, zone = self.phone(pattern, country)
        if source is None:
            source = self.pick({s: w for s, (w, _c) in SOURCES.items()})
        existing = lead_class is LeadClass.EXISTING_ACCOUNT or (
            lead_class is None and rng.random() < EXISTING_SHARE)
        if existing:
            lead_class = LeadClass.EXISTING_ACCOUNT
            company, size, domain = rng.choice(self.customers[country])
        else:
            if lead_class is None:
                lead_class = rng.choices(_CLASS_ORDER, weights=SOURCES[source][1])[0]
            company, size, domain = rng.choice(self.companies[country])
            if lead_class is LeadClass.POOR_FIT and rng.random() < 0.6:
                size = rng.randint(1, 12)
        if priority is None:
            priority = self.priority_for(lead_class)
        for _ in range(4):  # the same full name twice in one team looks like a bug
            first = rng.choice(FIRST_NAMES[country])
            last = rng.choice(LAST_NAMES[country])
            if (first, last) not in self.used_names:
                break
        self.used_names.add((first, last))
        title = rng.choice(POOR_FIT_TITLES if lead_class is LeadClass.POOR_FIT
                           and rng.random() < 0.5 else TITLES)
        local_part = (first + "." + last).lower().replace("'", "")
        local_part = (local_part.replace("ü", "ue").replace("ä", "ae").replace("ö", "oe")
                      .replace("ß", "ss"))
        if owner is None:
            reps = self.reps_by_territory.get(territory) or list(REPS)
            if rng.random() < 0.08:  # some spill-over to a teammate (capacity, absence)
                reps = self.team_reps[reps[0].team or TEAMS[0][0]]
            owner = rng.choice(reps)
        fields = {
            "first_name": first, "last_name": last, "company": company, "title": title,
            "email": f"{local_part}@{domain}", "phone": phone, "source": source,
            "country": country, "state": state or None, "territory": territory,
            "company_size": size, "product_interest": rng.choice(PRODUCTS),
        }
        return _Lead(ext=f"LQ-{100001 + index}", country=country, zone=zone, fields=fields,
                     owner=owner, lead_class=lead_class, priority=priority,
                     created_at=_sec(created_at))

    def priority_for(self, lead_class: LeadClass) -> int:
        weights = {
            LeadClass.HIGH_INTENT: (0.55, 0.40, 0.05, 0.0),
            LeadClass.EXISTING_ACCOUNT: (0.15, 0.60, 0.25, 0.0),
            LeadClass.QUALIFICATION_NEEDED: (0.0, 0.30, 0.65, 0.05),
            LeadClass.EARLY_STAGE: (0.0, 0.0, 0.45, 0.55),
            LeadClass.POOR_FIT: (0.0, 0.0, 0.10, 0.90),
        }[lead_class]
        return self.rng.choices((1, 2, 3, 4), weights=weights)[0]

    # -- history ---------------------------------------------------------------

    def author(self, lead: _Lead) -> _Person:
        if self.rng.random() < 0.05:  # covered by the backup now and then
            team = self.team_reps[lead.owner.team or TEAMS[0][0]]
            i = team.index(lead.owner)
            return team[(i + 1) % len(team)]
        return lead.owner

    def act(self, lead: _Lead, kind: ActivityKind, at: datetime, *,
            outcome: CallOutcome | None = None, body: str | None = None,
            inbound: bool = False, duration: int | None = None,
            author: _Person | None = None) -> None:
        if at > self.now:  # a bug in this generator, never data
            raise RuntimeError(f"demo activity for {lead.ext} after the anchor: {at}")
        rec: dict[str, Any] = {"lead": lead.ext, "kind": kind.value, "at": _iso(_sec(at))}
        if inbound:
            rec["direction"] = Direction.INBOUND.value
        if outcome is not None:
            rec["outcome"] = outcome.value
        if duration is not None:
            rec["duration_s"] = duration
        if body:
            rec["body"] = body
        who = author or (lead.owner if inbound else self.author(lead))
        rec["author"] = who.email
        lead.activities.append(rec)

    def call(self, lead: _Lead, at: datetime, *, connect_p: float | None = None,
             weights: tuple[float, float, float] | None = None, script: str | None = None,
             ) -> CallOutcome:
        """One outbound call; returns its outcome."""
        rng = self.rng
        p = CONNECT_P[lead.lead_class] if connect_p is None else connect_p
        r = rng.random()
        if r < 0.015:
            outcome = CallOutcome.WRONG_NUMBER
        elif r < 0.025:
            outcome = CallOutcome.BAD_NUMBER
        elif rng.random() < p:
            outcome = rng.choices(
                (CallOutcome.MEETING_BOOKED, CallOutcome.CONNECTED, CallOutcome.NOT_INTERESTED),
                weights=weights or ON_CONNECT[lead.lead_class])[0]
        else:
            outcome = rng.choices((CallOutcome.NO_ANSWER, CallOutcome.VOICEMAIL, CallOutcome.BUSY),
                                  weights=(0.45, 0.45, 0.10))[0]
        duration = {
            CallOutcome.CONNECTED: (240, 1200), CallOutcome.MEETING_BOOKED: (600, 1800),
            CallOutcome.NOT_INTERESTED: (60, 300), CallOutcome.VOICEMAIL: (25, 70),
            CallOutcome.NO_ANSWER: (15, 35), CallOutcome.BUSY: (3, 10),
            CallOutcome.WRONG_NUMBER: (20, 60), CallOutcome.BAD_NUMBER: (0, 5),
        }[outcome]
        first = lead.fields["first_name"]
        product = lead.fields["product_interest"]
        body = {
            CallOutcome.CONNECTED: f"Spoke with {first}: evaluating {product.lower()}, "
                                   f"wants to loop in their manager before a demo.",
            CallOutcome.MEETING_BOOKED: f"Great call with {first}; demo of {product.lower()} "
                                        f"booked with the account executive.",
            CallOutcome.NOT_INTERESTED: rng.choice((
                "Not a priority this year.", "Went with a competitor last quarter.",
                "No budget until next fiscal year.", "Only researching, no project.")),
            CallOutcome.VOICEMAIL: "Left a voicemail with a short intro and my direct line.",
            CallOutcome.NO_ANSWER: None, CallOutcome.BUSY: None,
            CallOutcome.WRONG_NUMBER: "Number belongs to someone else.",
            CallOutcome.BAD_NUMBER: "Number not in service.",
        }[outcome]
        if script and body is None:
            body = script
        self.act(lead, ActivityKind.CALL, at, outcome=outcome,
                 duration=rng.randint(*duration), body=body)
        if outcome in (CallOutcome.CONNECTED, CallOutcome.MEETING_BOOKED):
            lead.connected = True
        return outcome

    def email(self, lead: _Lead, at: datetime, template: str | None) -> None:
        subject = _TEMPLATE_SUBJECTS.get(template or "", "Following up")
        subject = subject.format(product=lead.fields["product_interest"].lower(),
                                 company=lead.fields["company"])
        self.act(lead, ActivityKind.EMAIL, at, body=f"Subject: {subject}")

    def local_hour(self, lead: _Lead, day_from: datetime, hours: tuple[int, int]) -> datetime:
        """A time on ``day_from``'s local date in the lead's zone, within ``hours``."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(lead.zone)
        local = day_from.astimezone(zone)
        at = local.replace(hour=self.rng.randint(*hours), minute=self.rng.choice((0, 15, 30, 45)),
                           second=0, microsecond=0)
        if at.isoweekday() > 5:
            at += timedelta(days=8 - at.isoweekday())
        return at.astimezone(UTC)

    def business_time(self, lead: _Lead, after: datetime) -> datetime:
        """``after``, or the next weekday morning when it falls outside 09:00-17:00
        in the lead's zone (a rep does not promise to call at 3 a.m.)."""
        from zoneinfo import ZoneInfo

        local = after.astimezone(ZoneInfo(lead.zone))
        if local.isoweekday() <= 5 and 9 <= local.hour < 17:
            return after
        day = local.date() + timedelta(days=1 if local.hour >= 17 else 0)
        while day.isoweekday() > 5:
            day += timedelta(days=1)
        morning = datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo(lead.zone))
        return (morning + timedelta(minutes=self.rng.choice((0, 15, 30, 45, 60, 90)))
                ).astimezone(UTC)

    def set_next(self, lead: _Lead, kind: NextStepKind | None, at: datetime | None,
                 text: str | None) -> None:
        lead.fields["next_step"] = text
        lead.fields["next_step_kind"] = kind.value if kind else None
        lead.fields["next_step_at"] = _iso(_sec(at)) if at else None

    def first_delay(self, lead: _Lead) -> timedelta:
        rng = self.rng
        if lead.priority == 1:
            return self.minutes(0.5, 4.5) if rng.random() < 0.82 else self.minutes(5, 40)
        if lead.priority == 2:
            return self.minutes(3, 55) if rng.random() < 0.85 else self.minutes(60, 300)
        return self.minutes(30, 20 * 60) if rng.random() < 0.9 else self.minutes(24 * 60, 50 * 60)

    def simulate(self, lead: _Lead) -> None:
        """Play the lead's follow-up from creation to now."""
        now, rng = self.now, self.rng
        if rng.random() < 0.012 and lead.created_at < now - timedelta(hours=6):
            # A duplicate caught on review.
            at = lead.created_at + self.minutes(20, 240)
            self.act(lead, ActivityKind.NOTE, at,
                     body="Same person as an older lead; merged there.")
            self.finish(lead, LeadStatus.DISQUALIFIED, at, reason=DisqualifyReason.DUPLICATE)
            return
        if lead.priority == 4:
            self.simulate_p4(lead)
            return
        lead.in_cadence = True
        if lead.fields["source"] == "Inbound call":
            self.after_reply(lead, lead.created_at, by_phone=True)
            return
        first_at = lead.created_at + self.first_delay(lead)
        target = timedelta(minutes={1: 5, 2: 60, 3: 24 * 60}[lead.priority])
        if first_at > now and lead.created_at + target < now:
            # Missed first responses happen, but in the past: today's only
            # breach is the one placed on purpose (see ``scenario``).
            first_at = lead.created_at + target * rng.uniform(0.2, 0.9)
        prev = lead.created_at
        for pos, (day, channel, template) in enumerate(DEFAULT_STEPS, start=1):
            due = step_due_at(lead.created_at, day, lead.zone, None, WINDOW_START)
            if pos == 1:
                at = first_at
            elif pos == 2:
                at = max(due, prev) + self.minutes(1, 12)
            else:
                at = max(due, prev + timedelta(minutes=30)) + self.minutes(0, 300)
            lagging = (pos > 2 and due < now and due > now - timedelta(days=3)
                       and rng.random() < 0.12)
            if at > now or lagging:
                self.pending_step(lead, pos, channel, template, due if pos > 1 else lead.created_at)
                return
            prev = at
            lead.cadence_steps_done = pos
            if channel is Channel.CALL:
                if self.after_call(lead, at, self.call(lead, at)):
                    return
                if rng.random() < 0.25 and lead.country == "US":
                    sms_at = min(at + self.minutes(1, 5), now)
                    self.act(lead, ActivityKind.SMS, sms_at,
                             body=f"Hi {lead.fields['first_name']}, just tried calling about "
                                  f"{lead.fields['product_interest'].lower()}. "
                                  f"When suits you? - {lead.owner.name.split()[0]}")
                    prev = sms_at
            elif channel is Channel.EMAIL:
                self.email(lead, at, template)
                if rng.random() < REPLY_P[lead.lead_class]:
                    reply_at = at + self.minutes(40, 26 * 60)
                    if reply_at < now:
                        self.after_reply(lead, reply_at)
                        return
            else:
                self.act(lead, ActivityKind.SOCIAL, at,
                         body=f"Connected on LinkedIn and commented on a "
                              f"{lead.fields['company']} post.")
        # Every step done without a response: the cadence is exhausted.
        ended = prev + timedelta(days=1)
        lead.enrollment_end = (EnrollmentStatus.COMPLETED, "exhausted", min(ended, now))
        if ended > now:
            self.set_next(lead, NextStepKind.OTHER, ended,
                          "Review: cadence finished without a response")
            lead.status = LeadStatus.WORKING
            lead.enrollment_end = None
            return
        if rng.random() < 0.3:
            self.finish(lead, LeadStatus.NO_RESPONSE, ended,
                        no_response=rng.choices(
                            (NoResponseReason.CADENCE_EXHAUSTED, NoResponseReason.UNREACHABLE),
                            weights=(0.7, 0.3))[0])
        else:
            self.nurture(lead, ended, NoResponseReason.CADENCE_EXHAUSTED)

    def pending_step(self, lead: _Lead, pos: int, channel: Channel, template: str,
                     due: datetime) -> None:
        lead.status = LeadStatus.NEW if pos == 1 else LeadStatus.WORKING
        if pos == 1:
            self.set_next(lead, NextStepKind.CALL, due,
                          f"Call — first response ({lead.fields['source'].lower()})")
        else:
            self.set_next(lead, _CHANNEL_KIND[channel], due,
                          f"{channel.value.capitalize()} — cadence step {pos}: {template}")

    def after_call(self, lead: _Lead, at: datetime, outcome: CallOutcome,
                   depth: int = 0) -> bool:
        """Follow a call's outcome; True when the cadence ends here."""
        now, rng = self.now, self.rng
        if outcome is CallOutcome.MEETING_BOOKED:
            self.meeting(lead, at)
            return True
        if outcome is CallOutcome.NOT_INTERESTED:
            reason = rng.choices((DisqualifyReason.NO_BUDGET, DisqualifyReason.COMPETITOR,
                                  DisqualifyReason.POOR_FIT, DisqualifyReason.OTHER),
                                 weights=(0.35, 0.25, 0.3, 0.1))[0]
            self.finish(lead, LeadStatus.DISQUALIFIED, at, reason=reason,
                        stop="not_interested")
            return True
        if outcome is CallOutcome.WRONG_NUMBER:
            self.finish(lead, LeadStatus.DISQUALIFIED, at, reason=DisqualifyReason.WRONG_CONTACT,
                        stop="wrong_number")
            return True
        if outcome is CallOutcome.BAD_NUMBER:
            self.finish(lead, LeadStatus.NO_RESPONSE, at,
                        no_response=NoResponseReason.BAD_CONTACT_DATA, stop="bad_number")
            return True
        if outcome is CallOutcome.CONNECTED:
            lead.enrollment_end = (EnrollmentStatus.STOPPED, "connected", at)
            promised = self.local_hour(lead, at + timedelta(days=rng.randint(1, 4)), (9, 16))
            if promised > now or depth >= 2:
                lead.status = LeadStatus.WORKING
                if promised <= now:
                    promised = self.business_time(lead, now + self.minutes(60, 60 * 30))
                self.set_next(lead, NextStepKind.CALLBACK, promised,
                              f"Call back as promised: {lead.fields['first_name']} wanted "
                              f"time to talk to their manager")
                return True
            again_at = promised + self.minutes(0, 10)
            if again_at > now:
                lead.status = LeadStatus.WORKING
                self.set_next(lead, NextStepKind.CALLBACK, promised,
                              f"Call back as promised: {lead.fields['first_name']} wanted "
                              f"time to talk to their manager")
                return True
            again = self.call(lead, again_at, connect_p=0.65, weights=(0.45, 0.3, 0.25))
            if again in (CallOutcome.NO_ANSWER, CallOutcome.VOICEMAIL, CallOutcome.BUSY):
                retry = promised + timedelta(days=2)
                again_at = retry + self.minutes(0, 120)
                if again_at > now:
                    lead.status = LeadStatus.WORKING
                    self.set_next(lead, NextStepKind.CALL, retry,
                                  "Call — missed the promised callback, try again")
                    return True
                again = self.call(lead, again_at, connect_p=0.5, weights=(0.35, 0.35, 0.3))
                if again in (CallOutcome.NO_ANSWER, CallOutcome.VOICEMAIL, CallOutcome.BUSY):
                    self.nurture(lead, min(again_at + timedelta(hours=3), now), None,
                                 note="Went quiet after the first conversation; nurture.")
                    return True
            return self.after_call(lead, again_at, again, depth + 1) or True
        return False

    def after_reply(self, lead: _Lead, at: datetime, *, by_phone: bool = False) -> None:
        """The lead answered (an email reply, or it called in): the cadence
        stops and the rep follows up until they talk, or gives up to nurture."""
        rng = self.rng
        lead.replied = True
        lead.enrollment_end = (EnrollmentStatus.STOPPED, "replied", at)
        if by_phone:
            self.act(lead, ActivityKind.CALL, at, outcome=CallOutcome.CONNECTED, inbound=True,
                     duration=rng.randint(120, 600),
                     body=f"Called in about {lead.fields['product_interest'].lower()}; "
                          f"asked for a call back with pricing details.")
            call_at = at + (self.minutes(2, 4.5) if lead.priority == 1 else self.minutes(5, 50))
        else:
            text = rng.choice(("Thanks — can you send pricing for a team of 20?",
                               "Interested, but next month is better. Can we talk then?",
                               "Yes, let's find a time for a quick call.",
                               "We already use a tool for this but are open to a comparison."))
            self.act(lead, ActivityKind.EMAIL, at, inbound=True, body=text)
            answer = at + self.minutes(10, 300)
            if answer > self.now:
                lead.status = LeadStatus.WORKING
                self.set_next(lead, NextStepKind.EMAIL,
                              self.business_time(lead, at + timedelta(minutes=30)),
                              "Answer the reply")
                return
            self.act(lead, ActivityKind.EMAIL, answer, body="Subject: Re: your question")
            call_at = self.business_time(lead, answer + self.minutes(60, 26 * 60))
        if call_at > self.now:
            lead.status = LeadStatus.WORKING
            self.set_next(lead, NextStepKind.CALLBACK, call_at, "Call back after their reply")
            return
        outcome = self.call(lead, call_at, connect_p=0.7, weights=(0.45, 0.35, 0.2))
        if self.after_call(lead, call_at, outcome):
            return
        # Not reached: two more tries over the next days, then nurture.
        for _ in range(2):
            call_at = self.local_hour(lead, call_at + timedelta(days=rng.randint(1, 3)), (9, 16))
            if call_at > self.now:
                lead.status = LeadStatus.WORKING
                self.set_next(lead, NextStepKind.CALL, call_at,
                              "Call — they replied, keep trying to reach them")
                return
            outcome = self.call(lead, call_at, connect_p=0.5, weights=(0.4, 0.35, 0.25))
            if self.after_call(lead, call_at, outcome):
                return
        self.nurture(lead, call_at + timedelta(hours=2), NoResponseReason.UNREACHABLE,
                     note="Replied once, then could not be reached; nurture.")

    def meeting(self, lead: _Lead, at: datetime) -> None:
        rng, now = self.rng, self.now
        lead.meeting = True
        lead.enrollment_end = (EnrollmentStatus.STOPPED, "meeting_booked", at)
        when = self.local_hour(lead, at + timedelta(days=rng.randint(2, 7)), (9, 16))
        lead.status = LeadStatus.MEETING
        product = lead.fields["product_interest"]
        if when + timedelta(hours=1) > now:
            self.set_next(lead, NextStepKind.OTHER, when, f"Demo meeting: {product}")
            return
        self.act(lead, ActivityKind.NOTE, when + timedelta(hours=1),
                 body=f"Demo held with {lead.fields['first_name']} and two colleagues.")
        decided = when + timedelta(days=rng.randint(5, 20))
        if decided > now:
            self.set_next(lead, NextStepKind.OTHER, decided, "Proposal follow-up")
            return
        r = rng.random()
        if r < 0.45:
            seats = rng.choice((5, 10, 15, 25, 40, 60, 120))
            self.finish(lead, LeadStatus.CONVERTED, decided,
                        outcome=f"Won: {seats} seats, {product}")
        elif r < 0.75:
            self.nurture(lead, decided, None, outcome="Demo held; revisit next quarter")
        elif r < 0.9:
            self.finish(lead, LeadStatus.DISQUALIFIED, decided, reason=DisqualifyReason.NO_BUDGET)
        else:
            self.set_next(lead, NextStepKind.OTHER, now + timedelta(days=rng.randint(1, 10)),
                          "Proposal follow-up")

    def simulate_p4(self, lead: _Lead) -> None:
        """P4: no active sequence. Poor fits are disqualified on review; early
        stage leads get one nurture email and go to nurture."""
        rng, now = self.rng, self.now
        review = lead.created_at + self.minutes(60, 40 * 60)
        if review > now:
            lead.status = LeadStatus.NEW
            if lead.lead_class is LeadClass.POOR_FIT:
                self.set_next(lead, NextStepKind.OTHER, review, "Review fit: disqualify or nurture")
            else:
                self.set_next(lead, NextStepKind.EMAIL, review, "Send the getting-started guide")
            return
        if lead.lead_class is LeadClass.POOR_FIT and rng.random() < 0.8:
            self.act(lead, ActivityKind.NOTE, review,
                     body=f"{lead.fields['title']} at a company of {lead.fields['company_size']}: "
                          f"not a sales target.")
            self.finish(lead, LeadStatus.DISQUALIFIED, review, reason=DisqualifyReason.POOR_FIT)
            return
        self.email(lead, review, None)
        if rng.random() < 0.04:
            reply = review + self.minutes(60, 600)
            if reply < now:
                self.act(lead, ActivityKind.EMAIL, reply, inbound=True,
                         body="Please remove me from your list.")
                lead.replied = True
                lead.fields["do_not_contact"] = True
                self.finish(lead, LeadStatus.DISQUALIFIED, reply, reason=DisqualifyReason.OTHER,
                            note="Asked not to be contacted again")
                return
        self.nurture(lead, review + timedelta(minutes=5), None)

    def nurture(self, lead: _Lead, at: datetime, reason: NoResponseReason | None, *,
                note: str | None = None, outcome: str | None = None) -> None:
        recycle = max(at + timedelta(days=self.rng.choice((90, 90, 120, 150))),
                      self.now + timedelta(days=self.rng.randint(2, 30)))
        if note:
            self.act(lead, ActivityKind.NOTE, min(at, self.now), body=note)
        lead.status = LeadStatus.NURTURE
        lead.fields["recycle_at"] = _iso(_sec(recycle))
        if reason is not None:
            lead.fields["no_response_reason"] = reason.value
        if outcome:
            lead.fields["final_outcome"] = outcome
        self.set_next(lead, None, recycle, "Recycle check-in")

    def finish(self, lead: _Lead, status: LeadStatus, at: datetime, *,
               reason: DisqualifyReason | None = None,
               no_response: NoResponseReason | None = None, outcome: str | None = None,
               note: str | None = None, stop: str | None = None) -> None:
        lead.status = status
        self.set_next(lead, None, None, None)
        if stop and lead.in_cadence:
            lead.enrollment_end = (EnrollmentStatus.STOPPED, stop, at)
        if reason is not None:
            lead.fields["disqualify_reason"] = reason.value
            if reason is DisqualifyReason.OTHER:
                lead.fields["disqualify_note"] = note or self.rng.choice((
                    "Reseller, not an end customer", "Looking for a job, not a product",
                    "Public-sector tender only"))
            elif note:
                lead.fields["disqualify_note"] = note
            lead.fields["final_outcome"] = (
                outcome or f"Disqualified: {reason.value.replace('_', ' ')}")
        if no_response is not None:
            lead.fields["no_response_reason"] = no_response.value
            lead.fields["final_outcome"] = outcome or "No response"
        if status is LeadStatus.CONVERTED:
            lead.fields["final_outcome"] = outcome

    # -- the base population and the live scenarios -----------------------------

    def base_created_at(self) -> datetime:
        """Arrival times over 90 days, weekdays and office hours more likely,
        a little more recent volume than old."""
        rng = self.rng
        while True:
            age_days = HISTORY_DAYS * (rng.random() ** 1.15)
            at = self.now - timedelta(days=age_days)
            if at > self.now - timedelta(hours=2) or at < self.start + timedelta(hours=1):
                continue
            if at.isoweekday() > 5 and rng.random() < 0.7:
                continue
            return _sec(at)

    def build(self) -> None:
        scenarios = self.scenario_specs()
        base = max(self.n - len(scenarios), 0)
        for i in range(base):
            lead = self.new_lead(i, self.base_created_at())
            self.simulate(lead)
            self.finish_lead(lead)
            self.leads.append(lead)
        for j, spec in enumerate(scenarios[: self.n - base]):
            lead = spec(base + j)
            lead.scenario = True
            self.finish_lead(lead)
            self.leads.append(lead)

    def finish_lead(self, lead: _Lead) -> None:
        rng = self.rng
        lead.activities.sort(key=lambda a: a["at"])
        touches = [a for a in lead.activities
                   if a["kind"] != "note" and a.get("direction") != "inbound"]
        f = lead.fields
        # Score as the rules do; what a threshold did back then is part of the
        # history (promoted, or parked to nurture), so the engine finds
        # nothing left to do when it first scores the demo.
        facts = ScoreFacts(
            lead_class=lead.lead_class, score=0, breakdown=(), touches=len(touches),
            meeting_booked=lead.meeting, replied=lead.replied, connected=lead.connected,
            phone_verified=True, unsubscribed=bool(f.get("do_not_contact")))
        result = score_lead(facts)
        f["score"] = result.score
        lead.score_breakdown = result.breakdown
        if lead.status.is_active and result.action is ScoreAction.PROMOTE:
            lead.priority = 1
        elif lead.status.is_active and result.action is ScoreAction.PARK:
            parked = datetime.fromisoformat(touches[-1]["at"]) + timedelta(hours=1)
            if lead.in_cadence:
                lead.enrollment_end = (EnrollmentStatus.STOPPED, "parked", min(parked, self.now))
            self.nurture(lead, min(parked, self.now), None)
        f["external_id"] = lead.ext
        f["priority"] = lead.priority
        f["lead_class"] = lead.lead_class.value
        f["status"] = lead.status.value
        f["owner"] = lead.owner.email
        f["created_at"] = _iso(lead.created_at)
        f["assigned_at"] = _iso(lead.created_at + timedelta(seconds=rng.randint(1, 20)))
        if touches:
            first = datetime.fromisoformat(touches[0]["at"])
            ack = max(first - timedelta(seconds=rng.randint(30, 240)),
                      lead.created_at + timedelta(seconds=25))
            f["acknowledged_at"] = _iso(min(ack, first))
        elif lead.status.is_active and "acknowledged_at" not in f:
            opened = lead.created_at + self.minutes(1, 6)
            if opened < self.now and rng.random() < 0.5:
                f["acknowledged_at"] = _iso(opened)
        if (lead.status is LeadStatus.WORKING and not lead.scenario and rng.random() < 0.03
                and "snoozed_until" not in f):
            f["snoozed_until"] = _iso(self.now + self.minutes(45, 26 * 60))

    def scenario_specs(self) -> list[Callable[[int], _Lead]]:
        """Leads that make "now" look like a working day, a few per rep.

        The first rep in the app's person list (the one the demo opens as)
        gets the full set, including the one breached SLA.
        """
        if self.n < 40:
            return []
        specs: list[Callable[[int], _Lead]] = []
        now = self.now
        per_rep = 7 if self.n >= 200 else 3
        for r, rep in enumerate(REPS):
            kinds = ["arrived_p1", "callback_soon", "arrived_p2", "abroad", "about_to_breach",
                     "callback_later", "snoozed"][:per_rep]
            if r == 0:
                kinds.append("breached_p1")
            for kind in kinds:
                specs.append(lambda i, kind=kind, rep=rep, r=r:
                             self.scenario(i, kind, rep, r, now))
        return specs

    def scenario(self, index: int, kind: str, rep: _Person, r: int, now: datetime) -> _Lead:
        rng = self.rng
        if kind in ("arrived_p1", "about_to_breach", "breached_p1", "arrived_p2"):
            age = {"arrived_p1": self.minutes(0.5, 2.5), "about_to_breach": self.minutes(3.8, 4.4),
                   "breached_p1": self.minutes(8, 11),
                   "arrived_p2": self.minutes(10, 24)}[kind]
            priority = 2 if kind == "arrived_p2" else 1
            source = rng.choice(("Demo request", "Pricing page") if priority == 1
                                else ("Web form", "Referral", "Partner"))
            lead = self.placed_lead(index, now - age, rep, open_=True, source=source,
                                    lead_class=LeadClass.HIGH_INTENT, priority=priority)
            lead.in_cadence = True
            lead.status = LeadStatus.NEW
            self.set_next(lead, NextStepKind.CALL, lead.created_at,
                          f"Call — first response ({source.lower()})")
            if kind == "breached_p1":
                lead.fields["acknowledged_at"] = _iso(lead.created_at + self.minutes(1, 2))
            return lead
        # Leads already in play: created days ago, with a history.
        created = _sec(now - timedelta(days=rng.uniform(1.5, 6), minutes=rng.randint(0, 600)))
        if kind == "abroad":
            # An existing customer's office on the other side of the world, routed
            # to its account owner: its calling window is usually closed when
            # the rep's is open.
            lead = self.placed_lead(index, created, rep, open_=False,
                                    lead_class=LeadClass.EXISTING_ACCOUNT, priority=2)
            lead.in_cadence = True
            first = lead.created_at + self.minutes(5, 50)
            self.email(lead, first, "Day 1 intro email")
            self.call(lead, first + self.minutes(2, 8), connect_p=0.0)
            self.email(lead, first + timedelta(days=1), "Day 2 resource email")
            lead.cadence_steps_done = 3
            lead.status = LeadStatus.WORKING
            self.set_next(lead, NextStepKind.CALL, now - self.minutes(20, 300),
                          "Call — cadence step 4: Day 4 call script")
            return lead
        lead = self.placed_lead(index, created, rep, open_=True,
                                lead_class=rng.choice((LeadClass.HIGH_INTENT,
                                                       LeadClass.QUALIFICATION_NEEDED)),
                                priority=rng.choice((1, 2, 2, 3)))
        lead.in_cadence = True
        first = lead.created_at + self.minutes(2, 40)
        self.email(lead, first, "Day 1 intro email")
        self.call(lead, first + self.minutes(2, 8), connect_p=0.0)
        talk = min(now - timedelta(hours=rng.uniform(3, 20)), first + timedelta(days=1))
        self.act(lead, ActivityKind.CALL, talk, outcome=CallOutcome.CONNECTED,
                 duration=rng.randint(300, 900),
                 body=f"Spoke with {lead.fields['first_name']}; interested, asked for a call "
                      f"back to include their VP of Sales.")
        lead.connected = True
        lead.cadence_steps_done = 2
        lead.enrollment_end = (EnrollmentStatus.STOPPED, "connected", talk)
        lead.status = LeadStatus.WORKING
        if kind == "callback_soon":
            at = now + timedelta(minutes=2 + r % 3)
            self.set_next(lead, NextStepKind.CALLBACK, at,
                          f"Call back at the agreed time: {lead.fields['first_name']} + VP")
        elif kind == "callback_later":
            at = now + timedelta(minutes=35 + 7 * r)
            self.set_next(lead, NextStepKind.CALLBACK, at, "Call back: pricing questions")
        else:  # snoozed
            self.set_next(lead, NextStepKind.CALL, now - timedelta(hours=1),
                          "Call — follow up on the proposal")
            lead.fields["snoozed_until"] = _iso(now + timedelta(hours=2 + r % 4))
        return lead

    # -- output ------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        people = [*REPS, *LEADS_, ADMIN]
        users = []
        for p in people:
            rec: dict[str, Any] = {"email": p.email, "name": p.name, "role": p.role.value,
                                   "timezone": p.timezone, "daily_capacity": p.capacity}
            if p.team:
                rec["team"] = p.team
            if p.territory:
                rec["territory"] = p.territory
                rec["routing_weight"] = p.weight
                team = self.team_reps[p.team or ""]
                rec["backup"] = team[(team.index(p) + 1) % len(team)].email
            elif p.role is Role.TEAM_LEAD:
                other = [q for q in LEADS_ if q is not p]
                rec["backup"] = other[0].email
            users.append(rec)
        activities = [a for lead in self.leads for a in lead.activities]
        return {
            "teams": [{"name": n, "timezone": z} for n, z in TEAMS],
            "users": users,
            "leads": [lead.fields for lead in self.leads],
            "activities": activities,
        }


def _home_country(rep: _Person) -> str:
    return {"UK & Ireland": "GB", "DACH": "DE", "ANZ": "AU"}.get(rep.territory or "", "US")


# -- public API ----------------------------------------------------------------


def build_demo_document(*, leads: int = DEFAULT_LEADS, seed: int = 1,
                        now: datetime | None = None) -> dict[str, Any]:
    """The demo as a load-format document (what ``write_demo_db`` loads)."""
    return _build(leads=leads, seed=seed, now=now).document()


def _build(*, leads: int, seed: int, now: datetime | None) -> _Generator:
    if leads < 0:
        raise ValueError(f"leads: {leads} is negative")
    anchor = datetime.now(UTC) if now is None else now
    if anchor.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    gen = _Generator(leads=leads, seed=seed, now=anchor)
    gen.build()
    return gen


def write_demo_db(target: str | Path, *, leads: int = DEFAULT_LEADS, seed: int = 1,
                  now: datetime | None = None, overwrite: bool = False) -> Any:
    """Create a demo local store at ``target``; returns the loader's report.

    The store is written to a temporary file next to ``target`` and moved into
    place only when complete, so a failure never leaves half a demo behind (nor
    destroys what was there). An existing non-empty ``target`` raises
    ``FileExistsError`` unless ``overwrite`` (the CLI's ``--force``).
    """
    from .store import inspect_store, sqlite_path_of, to_url

    path = sqlite_path_of(to_url(target))
    if path is None:
        raise ValueError("the demo is written to a local store path, not a server URL")
    state = inspect_store(path)
    if state.exists and path.stat().st_size > 0 and not overwrite:
        raise FileExistsError(f"{path} already exists")
    gen = _build(leads=leads, seed=seed, now=now)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove_db_files(tmp)
    try:
        report = _write(tmp, gen, seed)
        _remove_db_files(path)
        os.replace(tmp, path)
    finally:
        _remove_db_files(tmp)
    return report


def _remove_db_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _write(path: Path, gen: _Generator, seed: int) -> Any:
    from sqlalchemy import event, insert, select, text, update

    from .engine import ensure_defaults
    from .loader import load_document
    from .model import Account, Cadence, CadenceEnrollment, Lead, Team, User
    from .store import open_local_store, session_scope

    engine = open_local_store(path)
    try:
        ids = SeededIds(seed)
        # The default cadence and templates, with ids from the seeded factory.
        with session_scope(engine) as session:
            @event.listens_for(session, "before_flush")
            def _seeded_ids(sess, _ctx, _instances):  # type: ignore[no-untyped-def]
                fresh = sorted((o for o in sess.new if getattr(o, "id", None) is None),
                               key=lambda o: (type(o).__name__, str(getattr(o, "name", "")),
                                              getattr(o, "position", 0)))
                for obj in fresh:
                    obj.id = ids(gen.now)
                    if hasattr(obj, "updated_at"):
                        obj.updated_at = gen.now

            ensure_defaults(session)
        report = load_document(engine, gen.document(), now=gen.now, new_id=ids)
        with session_scope(engine) as session:
            by_ext = dict(session.execute(select(Lead.external_id, Lead.id)).all())
            cadence_id = session.scalar(select(Cadence.id).order_by(Cadence.name))
            users = dict(session.execute(select(User.email, User.id)).all())
            teams = dict(session.execute(select(Team.name, Team.id)).all())
            session.execute(update(Lead), [
                {"id": by_ext[lead.ext], "score_breakdown": lead.score_breakdown}
                for lead in gen.leads
            ])
            # Customer accounts, owned by the rep who covers the territory.
            accounts: dict[str, uuid.UUID] = {}
            account_rows = []
            for country, pool in sorted(gen.customers.items()):
                for company, _size, domain in pool:
                    aid = ids(gen.start)
                    accounts[company] = aid
                    territory_reps = [r for r in REPS if _home_country(r) == country]
                    owner = territory_reps[len(account_rows) % len(territory_reps)]
                    account_rows.append({
                        "id": aid, "company": company, "domains": [domain],
                        "owner_id": users[owner.email], "team_id": teams[owner.team or ""],
                        "version": 1, "updated_at": gen.now,
                    })
            session.execute(insert(Account), account_rows)
            links = [{"id": by_ext[lead.ext], "account_id": accounts[lead.fields["company"]]}
                     for lead in gen.leads if lead.fields["company"] in accounts]
            if links:
                session.execute(update(Lead), links)
            enrollments = []
            for lead in gen.leads:
                if not lead.in_cadence or cadence_id is None or lead.priority > 3:
                    continue
                touches = [a["at"] for a in lead.activities
                           if a["kind"] != "note" and a.get("direction") != "inbound"]
                row: dict[str, Any] = {
                    "id": ids(lead.created_at), "lead_id": by_ext[lead.ext],
                    "cadence_id": cadence_id, "enrolled_at": lead.created_at,
                    "current_step": lead.cadence_steps_done + 1,
                    "status": EnrollmentStatus.ACTIVE,
                    "step_scheduled_at": (datetime.fromisoformat(max(touches)) if touches
                                          else lead.created_at),
                    "version": 1, "updated_at": gen.now,
                }
                if lead.enrollment_end is not None:
                    status, why, at = lead.enrollment_end
                    row.update(status=status, end_reason=why, ended_at=at)
                elif not lead.status.is_active:
                    row.update(status=EnrollmentStatus.STOPPED, end_reason=lead.status.value,
                               ended_at=gen.now)
                enrollments.append(row)
            if enrollments:
                session.execute(insert(CadenceEnrollment), enrollments)
        with engine.connect() as con:
            con.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()
    return report


__all__ = ["SeededIds", "build_demo_document", "write_demo_db"]
