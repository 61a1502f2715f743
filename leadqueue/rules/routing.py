"""Lead routing: who gets a new lead, and why (pure).

``route(lead, book, state, now) -> RoutingDecision``. Nothing here touches the
store; :mod:`leadqueue.shared.routing_store` reads the book and the fairness
state from the shared database (under locks) and applies the decision.

The order of things, as a sales team expects it (DOMAIN.md, "Routing"):

1. **Existing account first.** A lead whose email domain (or a parent domain)
   or company name matches an account goes to the account's owner, else to
   the owner's personal backup, when that person is available and under
   their daily cap. Otherwise the rules below decide (the skip is recorded).
2. **Ordered rules, first match wins.** Rules are tried by ``position``; a
   rule matches on countries, states, territories, a company-size range,
   product interests, sources and lead classes (every condition given must
   hold; a lead missing a field a condition needs does not match it).
3. **The rule's target**: one rep (``rep``), the team by round-robin
   (``round_robin``), the team by weights (``weighted``, e.g. 40/20/20/20), or
   the team's shared pool (``pool``, no owner; anyone claims it).
4. **Skips**: a rep who is disabled, marked unavailable, out of office,
   outside their shift, offline for longer than the team allows, or at their
   daily capacity (default 20 new leads) is skipped with the reason, and the
   next eligible rep gets the lead (overflow).
5. **Every rule has a backup**: when the target yields nobody, the rule's
   backup rep, then its backup team (round-robin), then the pool of the
   rule's team. A lead that no rule matches stays unassigned, in the pool of
   the team the intake named if any, and says so.

Fairness: round-robin and weighted routing are one mechanism, stride
scheduling. Each (rule, rep) has a pass value; the eligible rep with the
lowest pass gets the lead and its pass grows by ``STRIDE_BASE // weight``
(weight 1 for round-robin), so over N leads each rep's share is within one
lead of ``N * weight / total``. A rep who is skipped is moved level with the
rep who got the lead, so coming back from a holiday gives a normal turn, not
a burst of "catch-up" leads; a rep new to the rule starts level with the
front too. The pass values live in the database (``routing_state``), so
restarts and concurrent workers stay fair.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from ..enums import LeadClass, RoutingMethod
from .calling_window import is_inside, lead_zone, parse_hhmm

#: Divisible by every weight from 1 to 16 and by 20, 25, 40, 50, 100...: the
#: strides of common weights are exact integers, so shares never drift.
STRIDE_BASE = 720720 * 1000
DEFAULT_DAILY_CAPACITY = 20
EXPLANATION_VERSION = 1


class RoutingConfigError(ValueError):
    """A routing rule is unusable; the message names the field."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class LeadFacts:
    """What routing may look at on a lead (already normalised)."""

    country: str | None = None
    state: str | None = None
    territory: str | None = None
    company_size: int | None = None
    product_interest: str | None = None
    source: str | None = None
    lead_class: str | None = None
    email: str | None = None
    company: str | None = None
    #: The team the intake named, if any: only its rules (and global ones) apply,
    #: and a lead no rule matches lands in its pool.
    team_id: uuid.UUID | None = None

    @property
    def email_domain(self) -> str | None:
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].strip().lower() or None


def _fold(value: str | None) -> str | None:
    return value.strip().casefold() if isinstance(value, str) and value.strip() else None


def _text_set(raw: Any, key: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise RoutingConfigError(f"match.{key}: expected a list of non-empty texts, got {raw!r}")
    return frozenset(v.strip().casefold() for v in raw)


_MATCH_KEYS = ("countries", "states", "territories", "company_size", "products", "sources",
               "classes")


@dataclass(frozen=True)
class Match:
    """A rule's conditions; an empty one matches every lead."""

    countries: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset()
    size_min: int | None = None
    size_max: int | None = None
    products: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> Match:
        """Read ``routing_rules.match``; RoutingConfigError names a bad key.

        ``{"countries": ["US"], "states": ["CA", "NY"], "territories": [...],
        "company_size": {"min": 50, "max": 500}, "products": [...],
        "sources": [...], "classes": ["high_intent"]}``
        """
        doc = doc or {}
        if not isinstance(doc, Mapping):
            raise RoutingConfigError(f"match: expected an object, got {doc!r}")
        unknown = sorted(set(doc) - set(_MATCH_KEYS))
        if unknown:
            raise RoutingConfigError(f"match.{unknown[0]}: unknown condition "
                                     f"(known: {', '.join(_MATCH_KEYS)})")
        size = doc.get("company_size") or {}
        if not isinstance(size, Mapping) or set(size) - {"min", "max"}:
            raise RoutingConfigError(f"match.company_size: expected {{\"min\": n, \"max\": n}}, "
                                     f"got {size!r}")
        bounds: list[int | None] = []
        for end in ("min", "max"):
            v = size.get(end)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise RoutingConfigError(f"match.company_size.{end}: expected a whole number "
                                         f">= 0, got {v!r}")
            bounds.append(v)
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            raise RoutingConfigError(f"match.company_size: min {bounds[0]} is above max "
                                     f"{bounds[1]}")
        classes = _text_set(doc.get("classes"), "classes")
        known = {c.value for c in LeadClass}
        for c in classes:
            if c not in known:
                raise RoutingConfigError(f"match.classes: {c!r} is not one of "
                                         f"{', '.join(sorted(known))}")
        return cls(
            countries=_text_set(doc.get("countries"), "countries"),
            states=_text_set(doc.get("states"), "states"),
            territories=_text_set(doc.get("territories"), "territories"),
            size_min=bounds[0], size_max=bounds[1],
            products=_text_set(doc.get("products"), "products"),
            sources=_text_set(doc.get("sources"), "sources"),
            classes=classes,
        )

    def why_not(self, lead: LeadFacts) -> str | None:
        """None when ``lead`` matches; otherwise the first condition it fails."""
        for name, wanted, value in (
            ("country", self.countries, lead.country),
            ("state", self.states, lead.state),
            ("territory", self.territories, lead.territory),
            ("product interest", self.products, lead.product_interest),
            ("source", self.sources, lead.source),
            ("lead class", self.classes, lead.lead_class),
        ):
            if wanted and _fold(value) not in wanted:
                shown = ", ".join(sorted(wanted))
                return f"{name} {value or '(none)'} is not one of {shown}"
        if self.size_min is not None or self.size_max is not None:
            size = lead.company_size
            lo = self.size_min if self.size_min is not None else 0
            hi = f"{self.size_max}" if self.size_max is not None else "any"
            if size is None:
                return f"company size unknown (rule wants {lo}-{hi})"
            if size < lo or (self.size_max is not None and size > self.size_max):
                return f"company size {size} is outside {lo}-{hi}"
        return None


@dataclass(frozen=True)
class Rule:
    id: uuid.UUID
    name: str
    method: RoutingMethod
    match: Match = field(default_factory=Match)
    position: int = 0
    team_id: uuid.UUID | None = None
    target_user_id: uuid.UUID | None = None
    target_team_id: uuid.UUID | None = None
    #: {user id: weight} for weighted routing; empty: the members' routing_weight.
    weights: Mapping[uuid.UUID, int] = field(default_factory=dict)
    backup_user_id: uuid.UUID | None = None
    backup_team_id: uuid.UUID | None = None

    @property
    def home_team_id(self) -> uuid.UUID | None:
        """The team whose pool is the last resort of this rule."""
        return self.target_team_id or self.team_id or self.backup_team_id


def validate_rule(rule: Rule) -> None:
    """RoutingConfigError naming the field when ``rule`` cannot route anything."""
    if not rule.name.strip():
        raise RoutingConfigError("name: a rule needs a name")
    if rule.method is RoutingMethod.REP and rule.target_user_id is None:
        raise RoutingConfigError("target_user_id: a 'rep' rule names the rep")
    if rule.method in (RoutingMethod.ROUND_ROBIN, RoutingMethod.POOL) \
            and rule.target_team_id is None:
        raise RoutingConfigError(f"target_team_id: a '{rule.method.value}' rule names the team")
    if rule.method is RoutingMethod.WEIGHTED and rule.target_team_id is None and not rule.weights:
        raise RoutingConfigError("weights: a 'weighted' rule names the team or the weights")
    for uid, w in rule.weights.items():
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            raise RoutingConfigError(f"weights.{uid}: expected a whole number >= 0, got {w!r}")
    if rule.method is not RoutingMethod.POOL and rule.backup_user_id is None \
            and rule.backup_team_id is None and rule.home_team_id is None:
        raise RoutingConfigError("backup_user_id: every rule needs a backup (a rep, a team, "
                                 "or a team whose pool takes the overflow)")


@dataclass(frozen=True)
class TeamInfo:
    id: uuid.UUID
    name: str
    timezone: str = "UTC"
    #: Skip reps not seen online for this long; None: presence is not checked.
    offline_after_minutes: int | None = None


@dataclass(frozen=True)
class Rep:
    """A person routing may give a lead to, with today's load."""

    id: uuid.UUID
    name: str
    team_id: uuid.UUID | None
    role: str = "rep"
    daily_capacity: int = DEFAULT_DAILY_CAPACITY
    #: New leads assigned to the rep today (their local day).
    assigned_today: int = 0
    available: bool = True
    disabled: bool = False
    out_of_office_until: datetime | None = None
    shift_start: str | None = None
    shift_end: str | None = None
    shift_days: str | None = None
    timezone: str | None = None
    last_seen_at: datetime | None = None
    routing_weight: int = 1
    backup_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    company: str
    domains: tuple[str, ...] = ()
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RoutingBook:
    """Everything routing reads that changes rarely: rules, people, accounts."""

    rules: tuple[Rule, ...] = ()
    reps: Mapping[uuid.UUID, Rep] = field(default_factory=dict)
    teams: Mapping[uuid.UUID, TeamInfo] = field(default_factory=dict)
    accounts: tuple[Account, ...] = ()

    @cached_property
    def account_index(self) -> AccountIndex:
        return AccountIndex(self.accounts)

    @cached_property
    def _ordered(self) -> tuple[Rule, ...]:
        return tuple(sorted(self.rules, key=lambda r: (r.position, r.name, str(r.id))))

    def ordered_rules(self) -> tuple[Rule, ...]:
        return self._ordered

    @cached_property
    def _members(self) -> dict[uuid.UUID, list[Rep]]:
        out: dict[uuid.UUID, list[Rep]] = {}
        for rep in sorted(self.reps.values(), key=lambda r: (r.name, str(r.id))):
            if rep.team_id is not None and rep.role == "rep" and not rep.disabled:
                out.setdefault(rep.team_id, []).append(rep)
        return out

    def members(self, team_id: uuid.UUID | None) -> list[Rep]:
        """A team's reps (not team leads or admins), in a stable order."""
        return list(self._members.get(team_id, ())) if team_id is not None else []

    def matching_rule(self, lead: LeadFacts) -> Rule | None:
        for rule in self.ordered_rules():
            if lead.team_id is not None and rule.team_id not in (None, lead.team_id):
                continue
            if rule.match.why_not(lead) is None:
                return rule
        return None

    def lock_plan(self, lead: LeadFacts) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """(rule ids, user ids) a decision for ``lead`` may read or change.

        The store locks these, in a fixed order, before reading fairness state
        and today's counts, so concurrent routers neither double-count a cap
        nor deadlock.
        """
        rules: set[uuid.UUID] = set()
        users: set[uuid.UUID] = set()
        account = self.account_index.find(lead)
        if account is not None and account.owner_id is not None:
            users.add(account.owner_id)
            owner = self.reps.get(account.owner_id)
            if owner is not None and owner.backup_id is not None:
                users.add(owner.backup_id)
        rule = self.matching_rule(lead)
        if rule is not None:
            rules.add(rule.id)
            for uid in (rule.target_user_id, rule.backup_user_id, *rule.weights):
                if uid is not None:
                    users.add(uid)
            for team in (rule.target_team_id, rule.backup_team_id):
                users.update(r.id for r in self.members(team))
        return rules, users

    def team_name(self, team_id: uuid.UUID | None) -> str | None:
        info = self.teams.get(team_id) if team_id else None
        return info.name if info else None


@dataclass(frozen=True)
class MemberState:
    """One rep's fairness state within one rule."""

    assigned_count: int = 0
    stride_pass: int = 0
    last_assigned_at: datetime | None = None


#: (rule id, user id) -> state; missing entries are new members.
FairnessState = Mapping[tuple[uuid.UUID, uuid.UUID], MemberState]


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Candidate:
    """A rep routing considered, and why they did or did not get the lead."""

    user_id: uuid.UUID
    name: str
    stage: str  # account_owner, account_backup, target, backup_rep, backup_team
    reason: str | None = None  # None: eligible
    assigned_today: int = 0
    capacity: int = 0

    @property
    def eligible(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class StateChange:
    rule_id: uuid.UUID
    user_id: uuid.UUID
    state: MemberState


@dataclass(frozen=True)
class RoutingDecision:
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    #: "account_owner", "account_backup", "rule", "backup_rep", "backup_team",
    #: "rule_pool" (the rule's target is its pool), "overflow_pool" (everyone
    #: skipped) or "no_rule".
    via: str
    method: str | None
    rule_id: uuid.UUID | None = None
    rule_name: str | None = None
    account_id: uuid.UUID | None = None
    candidates: tuple[Candidate, ...] = ()
    rules_tried: tuple[tuple[str, str], ...] = ()
    state_changes: tuple[StateChange, ...] = ()
    summary: str = ""
    at: datetime | None = None

    @property
    def skipped(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if not c.eligible)

    def explanation(self, book: RoutingBook | None = None) -> dict[str, Any]:
        """The JSON stored in ``leads.routing_explanation`` (and shown to people)."""

        def person(uid: uuid.UUID | None) -> dict[str, str] | None:
            if uid is None:
                return None
            rep = book.reps.get(uid) if book else None
            return {"id": str(uid), "name": rep.name if rep else str(uid)}

        return {
            "version": EXPLANATION_VERSION,
            "at": self.at.isoformat() if self.at else None,
            "summary": self.summary,
            "via": self.via,
            "method": self.method,
            "rule": ({"id": str(self.rule_id), "name": self.rule_name}
                     if self.rule_id else None),
            "account_id": str(self.account_id) if self.account_id else None,
            "owner": person(self.owner_id),
            "team": ({"id": str(self.team_id), "name": book.team_name(self.team_id)
                      if book else None} if self.team_id else None),
            "candidates": [
                {"id": str(c.user_id), "name": c.name, "stage": c.stage,
                 "eligible": c.eligible, "assigned_today": c.assigned_today,
                 "capacity": c.capacity, **({"skipped": c.reason} if c.reason else {})}
                for c in self.candidates
            ],
            "skipped": [{"id": str(c.user_id), "name": c.name, "reason": c.reason}
                        for c in self.skipped],
            "rules_tried": [{"rule": n, "why_not": w} for n, w in self.rules_tried],
        }


# --------------------------------------------------------------------------- availability


def unavailable_reason(rep: Rep, now: datetime, team: TeamInfo | None = None) -> str | None:
    """Why ``rep`` cannot take a new lead right now, or None when they can."""
    if rep.disabled:
        return "account disabled"
    if not rep.available:
        return "marked unavailable"
    if rep.out_of_office_until is not None and rep.out_of_office_until > now:
        return f"out of office until {rep.out_of_office_until.isoformat()}"
    if rep.shift_start and rep.shift_end:
        zone_name = rep.timezone or (team.timezone if team else None) or "UTC"
        zone = lead_zone(zone_name) or lead_zone("UTC")
        local = now.astimezone(zone)
        days = rep.shift_days or "1234567"
        try:
            start = parse_hhmm(rep.shift_start, "shift_start")
            end = parse_hhmm(rep.shift_end, "shift_end")
        except ValueError:
            start = end = None
        if start is not None and end is not None:
            # A night shift that started yesterday still counts as yesterday's day.
            day = local.isoweekday()
            if start > end and local.time() < end:
                day = (local - timedelta(days=1)).isoweekday()
            if str(day) not in days or not is_inside(local.time(), start, end):
                return (f"outside shift {rep.shift_start}-{rep.shift_end} ({zone_name}, "
                        f"days {days}); local time {local:%a %H:%M}")
    limit = team.offline_after_minutes if team else None
    if limit is not None:
        if rep.last_seen_at is None:
            return "never seen online"
        if now - rep.last_seen_at > timedelta(minutes=limit):
            minutes = int((now - rep.last_seen_at).total_seconds() // 60)
            return f"offline for {minutes} min (more than {limit})"
    return None


def skip_reason(rep: Rep, now: datetime, team: TeamInfo | None,
                extra_today: int = 0) -> str | None:
    """Availability, then the daily cap (``extra_today``: given earlier in a batch)."""
    reason = unavailable_reason(rep, now, team)
    if reason:
        return reason
    today = rep.assigned_today + extra_today
    if today >= rep.daily_capacity:
        return f"at daily capacity ({today} of {rep.daily_capacity})"
    return None


# --------------------------------------------------------------------------- accounts

_COMPANY_SUFFIX = re.compile(
    r"\b(incorporated|inc|llc|ltd|limited|gmbh|ag|sa|sas|bv|nv|plc|corp|corporation|co|"
    r"company|pty|srl|spa|oy|ab|as)\b\.?", re.IGNORECASE)


def company_key(name: str | None) -> str | None:
    """A company name reduced for matching: "ACME, Inc." and "Acme" agree."""
    if not name:
        return None
    text = _COMPANY_SUFFIX.sub(" ", name.casefold())
    text = re.sub(r"[^0-9a-z\u00c0-\uffff]+", "", text)
    return text or None


class AccountIndex:
    """Accounts by email domain and by company key, built once per batch."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.by_domain: dict[str, Account] = {}
        self.by_company: dict[str, Account] = {}
        for account in sorted(accounts, key=lambda a: str(a.id)):
            for domain in account.domains:
                if isinstance(domain, str) and domain.strip():
                    self.by_domain.setdefault(domain.strip().lower().lstrip("@"), account)
            key = company_key(account.company)
            if key:
                self.by_company.setdefault(key, account)

    def find(self, lead: LeadFacts) -> Account | None:
        """By email domain (or a parent domain: mail.acme.com -> acme.com), then company."""
        domain = lead.email_domain
        if domain:
            parts = domain.split(".")
            for i in range(len(parts) - 1):
                account = self.by_domain.get(".".join(parts[i:]))
                if account is not None:
                    return account
        key = company_key(lead.company)
        return self.by_company.get(key) if key else None


def find_account(lead: LeadFacts, accounts: Iterable[Account]) -> Account | None:
    """The account a lead belongs to (see :class:`AccountIndex`)."""
    return AccountIndex(accounts).find(lead)


# --------------------------------------------------------------------------- the decision


class _Pass:
    """One decision's working state: candidates seen, state changes, counts."""

    def __init__(self, book: RoutingBook, state: FairnessState, now: datetime,
                 extra_today: Mapping[uuid.UUID, int]) -> None:
        self.book = book
        self.state = state
        self.now = now
        self.extra = extra_today
        self.candidates: list[Candidate] = []
        self.changes: list[StateChange] = []

    def consider(self, rep: Rep, stage: str) -> bool:
        team = self.book.teams.get(rep.team_id) if rep.team_id else None
        reason = skip_reason(rep, self.now, team, self.extra.get(rep.id, 0))
        self.candidates.append(Candidate(rep.id, rep.name, stage, reason,
                                         rep.assigned_today + self.extra.get(rep.id, 0),
                                         rep.daily_capacity))
        return reason is None

    def single(self, user_id: uuid.UUID | None, stage: str) -> Rep | None:
        if user_id is None:
            return None
        rep = self.book.reps.get(user_id)
        if rep is None:
            return None
        return rep if self.consider(rep, stage) else None

    def stride(self, rule: Rule, members: Sequence[tuple[Rep, int]], stage: str) -> Rep | None:
        """Stride scheduling over (rep, weight) pairs; records state changes."""
        members = [(rep, w) for rep, w in members if w > 0]
        if not members:
            return None
        known = [self.state[(rule.id, r.id)].stride_pass
                 for r, _ in members if (rule.id, r.id) in self.state]
        floor = min(known) if known else 0
        current = {r.id: self.state.get((rule.id, r.id)) or MemberState(stride_pass=floor)
                   for r, _ in members}
        eligible: list[tuple[int, int, Rep, int]] = []
        skipped: list[Rep] = []
        for index, (rep, weight) in enumerate(members):
            if self.consider(rep, stage):
                eligible.append((current[rep.id].stride_pass, index, rep, weight))
            else:
                skipped.append(rep)
        if not eligible:
            return None
        front, _, chosen, weight = min(eligible, key=lambda e: (e[0], e[1]))
        skipped_ids = {r.id for r in skipped}
        for rep, _ in members:
            st = current[rep.id]
            if rep.id == chosen.id:
                continue
            if rep.id in skipped_ids and st.stride_pass < front:
                # Skipped reps lose this turn instead of banking it for later.
                self.changes.append(StateChange(rule.id, rep.id,
                                                replace(st, stride_pass=front)))
            elif (rule.id, rep.id) not in self.state:
                # A member new to the rule starts level with the front.
                self.changes.append(StateChange(rule.id, rep.id, st))
        old = current[chosen.id]
        self.changes.append(StateChange(rule.id, chosen.id, MemberState(
            old.assigned_count + 1, front + STRIDE_BASE // weight, self.now)))
        return chosen


def route(lead: LeadFacts, book: RoutingBook, state: FairnessState, now: datetime, *,
          extra_today: Mapping[uuid.UUID, int] | None = None) -> RoutingDecision:
    """Where ``lead`` goes and why (see the module docstring for the order)."""
    if now.tzinfo is None:
        raise ValueError("route needs an aware 'now'")
    now = now.astimezone(UTC)
    p = _Pass(book, state, now, extra_today or {})

    account = book.account_index.find(lead)
    if account is not None and account.owner_id is not None:
        owner = book.reps.get(account.owner_id)
        chosen = p.single(account.owner_id, "account_owner")
        via = "account_owner"
        if chosen is None and owner is not None and owner.backup_id not in (None, owner.id):
            chosen = p.single(owner.backup_id, "account_backup")
            via = "account_backup"
        if chosen is not None:
            who = "the account owner" if via == "account_owner" else \
                f"the account owner's backup (owner {owner.name if owner else '?'} skipped: " \
                f"{p.candidates[0].reason})"
            return RoutingDecision(
                chosen.id, chosen.team_id or account.team_id, via, "account_owner",
                account_id=account.id, candidates=tuple(p.candidates), at=now,
                summary=f"existing account {account.company}: to {chosen.name}, {who}")

    tried: list[tuple[str, str]] = []
    for rule in book.ordered_rules():
        if lead.team_id is not None and rule.team_id not in (None, lead.team_id):
            tried.append((rule.name, "belongs to another team"))
            continue
        why_not = rule.match.why_not(lead)
        if why_not is not None:
            tried.append((rule.name, why_not))
            continue
        return _apply_rule(rule, p, book, account, tuple(tried), now)

    team = lead.team_id
    return RoutingDecision(
        None, team, "no_rule", None, account_id=account.id if account else None,
        candidates=tuple(p.candidates), rules_tried=tuple(tried), at=now,
        summary="no routing rule matched: left unassigned"
        + (f" in the {book.team_name(team)} pool" if team else " (no team)"))


def _weights(rule: Rule, book: RoutingBook) -> list[tuple[Rep, int]]:
    if rule.weights:
        reps = [(book.reps[uid], int(w)) for uid, w in rule.weights.items()
                if uid in book.reps and not book.reps[uid].disabled]
        return sorted(reps, key=lambda rw: (rw[0].name, str(rw[0].id)))
    return [(r, r.routing_weight) for r in book.members(rule.target_team_id)]


def _apply_rule(rule: Rule, p: _Pass, book: RoutingBook, account: Account | None,
                tried: tuple[tuple[str, str], ...], now: datetime) -> RoutingDecision:
    method = rule.method.value

    def done(owner: Rep | None, team: uuid.UUID | None, via: str, summary: str) -> RoutingDecision:
        return RoutingDecision(
            owner.id if owner else None, owner.team_id if owner and owner.team_id else team,
            via, method, rule.id, rule.name, account.id if account else None,
            tuple(p.candidates), tried, tuple(p.changes), summary, now)

    if rule.method is RoutingMethod.POOL:
        return done(None, rule.target_team_id, "rule_pool",
                    f"rule {rule.name!r}: to the {book.team_name(rule.target_team_id)} pool")

    chosen: Rep | None = None
    if rule.method is RoutingMethod.REP:
        chosen = p.single(rule.target_user_id, "target")
        how = "the rule's rep"
    elif rule.method is RoutingMethod.ROUND_ROBIN:
        chosen = p.stride(rule, [(r, 1) for r in book.members(rule.target_team_id)], "target")
        how = f"round-robin in {book.team_name(rule.target_team_id)}"
    else:
        chosen = p.stride(rule, _weights(rule, book), "target")
        how = "weighted" + (f" in {book.team_name(rule.target_team_id)}"
                            if rule.target_team_id else "")
    if chosen is not None:
        skipped = [c for c in p.candidates if not c.eligible]
        note = f" ({len(skipped)} skipped)" if skipped else ""
        return done(chosen, rule.target_team_id, "rule",
                    f"rule {rule.name!r}: to {chosen.name}, {how}{note}")

    chosen = p.single(rule.backup_user_id, "backup_rep")
    if chosen is not None:
        return done(chosen, rule.target_team_id, "backup_rep",
                    f"rule {rule.name!r}: everyone in the target skipped; to the backup "
                    f"rep {chosen.name}")
    if rule.backup_team_id is not None:
        chosen = p.stride(rule, [(r, 1) for r in book.members(rule.backup_team_id)],
                          "backup_team")
        if chosen is not None:
            return done(chosen, rule.backup_team_id, "backup_team",
                        f"rule {rule.name!r}: target and backup rep skipped; round-robin in "
                        f"the backup team {book.team_name(rule.backup_team_id)}: "
                        f"{chosen.name}")
    pool = rule.home_team_id
    return done(None, pool, "overflow_pool",
                f"rule {rule.name!r}: every eligible rep skipped; to the "
                f"{book.team_name(pool) or 'unassigned'} pool for anyone to claim")


def rule_from_row(row: Any) -> Rule:
    """A :class:`Rule` from a ``routing_rules`` row (ORM object or mapping)."""
    get = (lambda k: row[k]) if isinstance(row, Mapping) else (lambda k: getattr(row, k))
    weights_raw = get("weights") or {}
    weights: dict[uuid.UUID, int] = {}
    for key, w in weights_raw.items():
        try:
            weights[uuid.UUID(str(key))] = w
        except ValueError:
            raise RoutingConfigError(f"weights: {key!r} is not a user id") from None
    rule = Rule(
        id=get("id"), name=get("name"), method=RoutingMethod(get("method")),
        match=Match.from_json(get("match")), position=get("position") or 0,
        team_id=get("team_id"), target_user_id=get("target_user_id"),
        target_team_id=get("target_team_id"), weights=weights,
        backup_user_id=get("backup_user_id"), backup_team_id=get("backup_team_id"))
    validate_rule(rule)
    return rule
