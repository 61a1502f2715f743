"""Lead scoring: transparent points from a base set by lead class.

The score is the base plus every point rule that applies; the breakdown
(``[{"rule": ..., "points": ...}]``) is stored on the lead and shown, so a rep
can see why a lead scores what it scores.

A ``score`` given on load (a lead with a score and no breakdown yet) stands:
it becomes the base ("loaded_score") in place of the class base, and point
rules add to it from then on. Signals already true when the loaded score is
first seen are taken to be part of it: they are listed with 0 points (shown,
not counted twice) for as long as they stay true; a signal that appears
later adds its points.

"No open after 3 touches" is read as: three or more outbound touches and no
sign of life (no inbound reply, no connected call, no meeting) — the store
does not track e-mail opens.

Thresholds act only once the lead has had three touches, so a new lead is never
parked before anyone called it: >= 60 promotes one priority level, < 20 parks
the lead to nurture.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..enums import LeadClass

BASE_BY_CLASS: dict[LeadClass, int] = {
    LeadClass.HIGH_INTENT: 50,
    LeadClass.EXISTING_ACCOUNT: 45,
    LeadClass.QUALIFICATION_NEEDED: 40,
    LeadClass.EARLY_STAGE: 30,
    LeadClass.POOR_FIT: 10,
}

POINTS: dict[str, int] = {
    "booked_call": 30,
    "reply": 15,
    "verified_phone": 10,
    "no_open_after_3_touches": -10,
    "unsubscribed": -20,
}

PROMOTE_AT = 60
PARK_BELOW = 20
MIN_TOUCHES = 3


@dataclass(frozen=True)
class ScoreFacts:
    lead_class: LeadClass
    score: int
    breakdown: tuple[tuple[str, int], ...]
    touches: int
    meeting_booked: bool = False
    replied: bool = False
    connected: bool = False
    phone_verified: bool = False
    unsubscribed: bool = False


class ScoreAction(StrEnum):
    NONE = "none"
    PROMOTE = "promote"
    PARK = "park"


@dataclass(frozen=True)
class ScoreResult:
    score: int
    breakdown: list[dict[str, Any]]
    action: ScoreAction


def breakdown_pairs(stored: list[Any] | None) -> tuple[tuple[str, int], ...]:
    return tuple((str(b["rule"]), int(b["points"])) for b in (stored or ()))


def score_lead(facts: ScoreFacts) -> ScoreResult:
    """The lead's score, its breakdown, and whether a threshold acts."""
    stored = dict(facts.breakdown)
    loaded = stored.get("loaded_score")
    first_seen = loaded is None and not facts.breakdown and facts.score != 0
    if first_seen:
        loaded = facts.score
    #: Signals counted inside the loaded score (stored with 0 points).
    absorbed = {r for r, p in facts.breakdown if p == 0 and r in POINTS}
    if loaded is not None:
        parts: list[tuple[str, int]] = [("loaded_score", loaded)]
    else:
        parts = [(f"class:{facts.lead_class.value}", BASE_BY_CLASS[facts.lead_class])]
    signals = {
        "booked_call": facts.meeting_booked,
        "reply": facts.replied,
        "verified_phone": facts.phone_verified,
        "no_open_after_3_touches": facts.touches >= MIN_TOUCHES
        and not (facts.replied or facts.connected or facts.meeting_booked),
        "unsubscribed": facts.unsubscribed,
    }
    for rule, applies in signals.items():
        if applies:
            inside = loaded is not None and (first_seen or rule in absorbed)
            parts.append((rule, 0 if inside else POINTS[rule]))
    total = sum(p for _, p in parts)
    action = ScoreAction.NONE
    if facts.touches >= MIN_TOUCHES:
        if total >= PROMOTE_AT:
            action = ScoreAction.PROMOTE
        elif total < PARK_BELOW:
            action = ScoreAction.PARK
    return ScoreResult(total, [{"rule": r, "points": p} for r, p in parts], action)
