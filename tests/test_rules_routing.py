"""The pure routing rules: matching, each method, caps and overflow,
availability, backups, account owners first, fairness, explanations."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from leadqueue.enums import RoutingMethod
from leadqueue.rules.classify import classify
from leadqueue.rules.routing import (
    STRIDE_BASE,
    Account,
    LeadFacts,
    Match,
    MemberState,
    Rep,
    RoutingBook,
    RoutingConfigError,
    Rule,
    TeamInfo,
    company_key,
    find_account,
    route,
    rule_from_row,
    unavailable_reason,
    validate_rule,
)

#: A Wednesday, 15:00 UTC.
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ALPHA = uuid.UUID(int=1)
BETA = uuid.UUID(int=2)


def rep(name: str, team: uuid.UUID = ALPHA, **kw) -> Rep:  # type: ignore[no-untyped-def]
    return Rep(uuid.uuid5(uuid.NAMESPACE_DNS, name), name, team, **kw)


def book(reps: list[Rep], rules: list[Rule], accounts: tuple[Account, ...] = (),
         teams: dict[uuid.UUID, TeamInfo] | None = None) -> RoutingBook:
    teams = teams or {ALPHA: TeamInfo(ALPHA, "Alpha"), BETA: TeamInfo(BETA, "Beta")}
    return RoutingBook(tuple(rules), {r.id: r for r in reps}, teams, accounts)


def rule(name: str, method: RoutingMethod, **kw) -> Rule:  # type: ignore[no-untyped-def]
    return Rule(uuid.uuid5(uuid.NAMESPACE_URL, name), name, method, **kw)


def run(b: RoutingBook, n: int, lead: LeadFacts | None = None,
        state: dict | None = None) -> tuple[Counter[str], dict]:  # type: ignore[type-arg]
    """Route ``n`` leads, feeding each decision's state back like the store does."""
    state = {} if state is None else state
    names = {r.id: r.name for r in b.reps.values()}
    got: Counter[str] = Counter()
    today: Counter[uuid.UUID] = Counter()
    for _ in range(n):
        d = route(lead or LeadFacts(), b, state, NOW, extra_today=today)
        for ch in d.state_changes:
            state[(ch.rule_id, ch.user_id)] = ch.state
        if d.owner_id:
            today[d.owner_id] += 1
        got[names.get(d.owner_id, "pool")] += 1
    return got, state


# --------------------------------------------------------------------------- matching


def test_first_matching_rule_wins_in_position_order() -> None:
    a, b = rep("Ann"), rep("Bob")
    rules = [rule("catch-all", RoutingMethod.REP, position=9, target_user_id=b.id),
             rule("US", RoutingMethod.REP, position=1, target_user_id=a.id,
                  match=Match.from_json({"countries": ["US", "CA"]})),
             rule("US too", RoutingMethod.REP, position=2, target_user_id=b.id,
                  match=Match.from_json({"countries": ["US"]}))]
    d = route(LeadFacts(country="us"), book([a, b], rules), {}, NOW)
    assert (d.owner_id, d.rule_name, d.via) == (a.id, "US", "rule")
    d = route(LeadFacts(country="DE"), book([a, b], rules), {}, NOW)
    assert d.rule_name == "catch-all"
    assert ("US", "country DE is not one of ca, us") in d.rules_tried


@pytest.mark.parametrize(("match", "lead", "ok"), [
    ({"states": ["CA"]}, LeadFacts(state="ca"), True),
    ({"states": ["CA"]}, LeadFacts(state="NY"), False),
    ({"territories": ["West"]}, LeadFacts(territory="west"), True),
    ({"company_size": {"min": 50, "max": 500}}, LeadFacts(company_size=50), True),
    ({"company_size": {"min": 50, "max": 500}}, LeadFacts(company_size=501), False),
    ({"company_size": {"min": 50}}, LeadFacts(company_size=None), False),
    ({"products": ["Analytics"]}, LeadFacts(product_interest="analytics"), True),
    ({"sources": ["webinar"]}, LeadFacts(source="web form"), False),
    ({"classes": ["high_intent"]}, LeadFacts(lead_class="high_intent"), True),
    ({"classes": ["high_intent"]}, LeadFacts(lead_class="early_stage"), False),
    ({"countries": ["US"], "company_size": {"max": 49}}, LeadFacts(country="US",
                                                                    company_size=10), True),
    ({}, LeadFacts(), True),
])
def test_match_conditions(match: dict, lead: LeadFacts, ok: bool) -> None:  # type: ignore[type-arg]
    assert (Match.from_json(match).why_not(lead) is None) is ok


@pytest.mark.parametrize(("doc", "field"), [
    ({"country": ["US"]}, "match.country"),
    ({"company_size": {"min": 10, "max": 5}}, "match.company_size"),
    ({"company_size": {"min": -1}}, "match.company_size.min"),
    ({"classes": ["hot"]}, "match.classes"),
    ({"sources": "web"}, None),  # a single text is accepted as a list of one
])
def test_match_validation_names_the_field(doc: dict, field: str | None) -> None:  # type: ignore[type-arg]
    if field is None:
        assert Match.from_json(doc).sources == frozenset({"web"})
        return
    with pytest.raises(RoutingConfigError, match=field):
        Match.from_json(doc)


def test_rule_validation_requires_targets_and_a_backup() -> None:
    with pytest.raises(RoutingConfigError, match="target_user_id"):
        validate_rule(rule("x", RoutingMethod.REP))
    with pytest.raises(RoutingConfigError, match="target_team_id"):
        validate_rule(rule("x", RoutingMethod.ROUND_ROBIN))
    with pytest.raises(RoutingConfigError, match="backup"):
        validate_rule(rule("x", RoutingMethod.REP, target_user_id=uuid.uuid4()))
    validate_rule(rule("x", RoutingMethod.REP, target_user_id=uuid.uuid4(), team_id=ALPHA))
    with pytest.raises(RoutingConfigError, match="weights"):
        rule_from_row({"id": uuid.uuid4(), "name": "w", "method": "weighted",
                       "match": {}, "position": 0, "team_id": None, "target_user_id": None,
                       "target_team_id": ALPHA, "weights": {"nobody": 3},
                       "backup_user_id": None, "backup_team_id": None})


# --------------------------------------------------------------------------- methods


def test_round_robin_rotates_and_is_fair_over_10k() -> None:
    reps = [rep(n) for n in ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus")]
    for r in reps:
        object.__setattr__(r, "daily_capacity", 10**9)
    b = book(reps, [rule("rr", RoutingMethod.ROUND_ROBIN, target_team_id=ALPHA)])
    first, _ = run(b, 7)
    assert set(first.values()) == {1}
    got, _ = run(b, 10_000)
    ideal = 10_000 / 7
    assert all(abs(n - ideal) <= 1 for n in got.values()), got


def test_weighted_40_20_20_20_within_2_percent_over_10k() -> None:
    reps = [rep("Senior", daily_capacity=10**9, routing_weight=40)] + [
        rep(n, daily_capacity=10**9, routing_weight=20) for n in ("B", "C", "D")]
    b = book(reps, [rule("w", RoutingMethod.WEIGHTED, target_team_id=ALPHA)])
    got, _ = run(b, 10_000)
    assert abs(got["Senior"] / 10_000 - 0.4) <= 0.02 * 0.4
    for n in ("B", "C", "D"):
        assert abs(got[n] / 10_000 - 0.2) <= 0.02 * 0.2
    # Explicit weights on the rule override the people's routing_weight.
    rr = rule("w2", RoutingMethod.WEIGHTED, weights={reps[1].id: 3, reps[2].id: 1})
    got, _ = run(book(reps, [rr]), 400)
    assert got == Counter({"B": 300, "C": 100})


def test_one_rep_and_pool_targets() -> None:
    a = rep("Ann")
    d = route(LeadFacts(), book([a], [rule("mine", RoutingMethod.REP, target_user_id=a.id,
                                            team_id=ALPHA)]), {}, NOW)
    assert (d.owner_id, d.team_id, d.method) == (a.id, ALPHA, "rep")
    d = route(LeadFacts(), book([a], [rule("p", RoutingMethod.POOL, target_team_id=BETA)]),
              {}, NOW)
    assert (d.owner_id, d.team_id, d.via) == (None, BETA, "rule_pool")


def test_no_rule_leaves_the_lead_unassigned_and_says_so() -> None:
    d = route(LeadFacts(country="FR", team_id=BETA),
              book([], [rule("US", RoutingMethod.POOL, target_team_id=ALPHA,
                             match=Match.from_json({"countries": ["US"]}))]), {}, NOW)
    assert (d.owner_id, d.team_id, d.via) == (None, BETA, "no_rule")
    assert "no routing rule matched" in d.summary


# --------------------------------------------------------------------------- caps, availability


def test_daily_capacity_overflows_to_the_next_rep_then_the_backup_then_the_pool() -> None:
    a, b = rep("Ann", daily_capacity=2), rep("Bob", daily_capacity=1)
    backup = rep("Zed", team=BETA, daily_capacity=1)
    r = rule("rr", RoutingMethod.ROUND_ROBIN, target_team_id=ALPHA, backup_user_id=backup.id)
    got, _ = run(book([a, b, backup], [r]), 6)
    assert got == Counter({"Ann": 2, "Bob": 1, "Zed": 1, "pool": 2})
    d = route(LeadFacts(), book([a, b, backup], [r]), {}, NOW,
              extra_today={a.id: 2, b.id: 1, backup.id: 1})
    assert d.via == "overflow_pool" and d.team_id == ALPHA
    assert {c.name: c.reason for c in d.skipped} == {
        "Ann": "at daily capacity (2 of 2)", "Bob": "at daily capacity (1 of 1)",
        "Zed": "at daily capacity (1 of 1)"}


def test_unavailable_reps_are_skipped_with_the_reason() -> None:
    team = TeamInfo(ALPHA, "Alpha", "Europe/London", offline_after_minutes=30)
    ok = rep("Ann", last_seen_at=NOW - timedelta(minutes=5))
    cases = {
        "marked unavailable": rep("Bob", available=False, last_seen_at=NOW),
        "out of office until": rep("Cat", out_of_office_until=NOW + timedelta(days=3),
                                   last_seen_at=NOW),
        "outside shift": rep("Dan", shift_start="06:00", shift_end="14:00", last_seen_at=NOW,
                             timezone="Europe/London"),
        "offline for 90 min": rep("Eve", last_seen_at=NOW - timedelta(minutes=90)),
        "never seen online": rep("Fay"),
    }
    for expected, person in cases.items():
        assert expected in (unavailable_reason(person, NOW, team) or ""), expected
    assert unavailable_reason(ok, NOW, team) is None
    # A night shift that crosses midnight, on its start day.
    night = rep("Nia", shift_start="22:00", shift_end="06:00", shift_days="3",
                timezone="UTC")
    assert unavailable_reason(night, NOW.replace(hour=23), None) is None
    assert unavailable_reason(night, NOW.replace(hour=3) + timedelta(days=1), None) is None
    assert "outside shift" in unavailable_reason(night, NOW.replace(hour=3), None)
    b = book([ok, *cases.values()], [rule("rr", RoutingMethod.ROUND_ROBIN,
                                          target_team_id=ALPHA)], teams={ALPHA: team})
    d = route(LeadFacts(), b, {}, NOW)
    assert d.owner_id == ok.id
    assert len(d.skipped) == 5


def test_a_rep_back_from_holiday_gets_a_normal_turn_not_a_burst() -> None:
    a, b, c = (rep(n, daily_capacity=10**9) for n in ("Ann", "Bob", "Cat"))
    r = rule("rr", RoutingMethod.ROUND_ROBIN, target_team_id=ALPHA)
    away = rep("Cat", daily_capacity=10**9, out_of_office_until=NOW + timedelta(days=1))
    _, state = run(book([a, b, away], [r]), 300)
    got, _ = run(book([a, b, c], [r]), 30, state=state)
    assert got == Counter({"Ann": 10, "Bob": 10, "Cat": 10})


def test_every_rule_has_a_backup_rep_then_backup_team() -> None:
    a = rep("Ann", available=False)
    backup = rep("Bob", available=False)
    b1, b2 = rep("Xia", team=BETA), rep("Yan", team=BETA)
    r = rule("r", RoutingMethod.REP, target_user_id=a.id, backup_user_id=backup.id,
             backup_team_id=BETA, team_id=ALPHA)
    got, _ = run(book([a, backup, b1, b2], [r]), 4)
    assert got == Counter({"Xia": 2, "Yan": 2})
    d = route(LeadFacts(), book([a, backup, b1, b2], [r]), {}, NOW)
    assert d.via == "backup_team"
    assert [c.stage for c in d.candidates][:2] == ["target", "backup_rep"]


# --------------------------------------------------------------------------- accounts


def test_existing_account_goes_to_its_owner_first() -> None:
    owner, other, backup = rep("Olga"), rep("Ann"), rep("Bea")
    object.__setattr__(owner, "backup_id", backup.id)
    acme = Account(uuid.uuid4(), "ACME, Inc.", ("acme.com",), owner.id, ALPHA)
    r = rule("rr", RoutingMethod.ROUND_ROBIN, target_team_id=ALPHA)
    b = book([owner, other, backup], [r], (acme,))
    for facts in (LeadFacts(email="jo@eu.acme.com"), LeadFacts(company="Acme Inc"),
                  LeadFacts(email="jo@gmail.com", company="ACME")):
        d = route(facts, b, {}, NOW)
        assert (d.owner_id, d.via, d.account_id) == (owner.id, "account_owner", acme.id)
    away = Rep(owner.id, "Olga", ALPHA, available=False, backup_id=backup.id)
    b = book([away, other, backup], [r], (acme,))
    d = route(LeadFacts(email="x@acme.com"), b, {}, NOW)
    assert (d.owner_id, d.via) == (backup.id, "account_backup")
    gone = Rep(backup.id, "Bea", ALPHA, available=False)
    d = route(LeadFacts(email="x@acme.com"), book([away, other, gone], [r], (acme,)), {}, NOW)
    assert d.via == "rule" and d.account_id == acme.id
    assert d.skipped[0].stage == "account_owner"
    assert find_account(LeadFacts(email="x@notacme.com"), (acme,)) is None
    assert company_key("Acme GmbH") == company_key("acme") == "acme"


# --------------------------------------------------------------------------- explanation


def test_the_explanation_says_rule_method_candidates_and_skips() -> None:
    a, b = rep("Ann", available=False), rep("Bob")
    r = rule("US", RoutingMethod.ROUND_ROBIN, target_team_id=ALPHA,
             match=Match.from_json({"countries": ["US"]}))
    bk = book([a, b], [rule("DE", RoutingMethod.POOL, target_team_id=BETA,
                            match=Match.from_json({"countries": ["DE"]})), r])
    doc = route(LeadFacts(country="US"), bk, {}, NOW).explanation(bk)
    assert doc["rule"]["name"] == "US" and doc["method"] == "round_robin"
    assert doc["owner"] == {"id": str(b.id), "name": "Bob"}
    assert [c["name"] for c in doc["candidates"]] == ["Ann", "Bob"]
    assert doc["skipped"] == [{"id": str(a.id), "name": "Ann", "reason": "marked unavailable"}]
    assert doc["rules_tried"] == [{"rule": "DE", "why_not": "country US is not one of de"}]
    assert "Bob" in doc["summary"] and "1 skipped" in doc["summary"]


def test_state_changes_are_integer_strides() -> None:
    a = rep("Ann", routing_weight=40)
    r = rule("w", RoutingMethod.WEIGHTED, target_team_id=ALPHA)
    d = route(LeadFacts(), book([a], [r]), {(r.id, a.id): MemberState(5, 100)}, NOW)
    assert d.state_changes[-1].state == MemberState(6, 100 + STRIDE_BASE // 40, NOW)


def test_classification() -> None:
    assert classify(inquiry="demo").lead_class.value == "high_intent"
    assert classify(inquiry="demo").priority == 1
    assert classify(inquiry="job").lead_class.value == "poor_fit"
    assert classify(inquiry="newsletter").priority == 3
    assert classify().lead_class.value == "qualification_needed"
    assert classify(inquiry="demo", existing_account="Acme").lead_class.value == \
        "existing_account"
    assert classify(inquiry="demo", given_priority=3).priority == 3
