"""Classifying a new lead at intake: class, priority and why (pure).

The playbook's classes (DOMAIN.md, "Classify, then treat differently"), read
from what an inquiry says about itself:

- an existing customer account -> ``existing_account``;
- a lead whose class the sending system already set keeps it;
- asked for a demo, a price, a call or a trial -> ``high_intent``;
- not a sales inquiry (support, a job application, a vendor pitch)
  -> ``poor_fit``;
- downloaded content, signed up for a newsletter or a webinar
  -> ``early_stage`` (good fit, not ready);
- anything else -> ``qualification_needed`` (useful, context missing).

Priority follows the class (P1 fastest ... P4 no active sequence) unless the
sender gave one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..enums import LeadClass

#: What an inquiry can say it is (the ``inquiry`` field of the intake format).
INQUIRIES = ("demo", "pricing", "call", "trial", "question", "content", "newsletter",
             "webinar", "support", "job", "partner", "vendor", "other")
HIGH_INTENT = frozenset({"demo", "pricing", "call", "trial"})
EARLY_STAGE = frozenset({"content", "newsletter", "webinar"})
NOT_SALES = frozenset({"support", "job", "vendor"})

PRIORITY_BY_CLASS: dict[LeadClass, int] = {
    LeadClass.HIGH_INTENT: 1,
    LeadClass.EXISTING_ACCOUNT: 2,
    LeadClass.QUALIFICATION_NEEDED: 2,
    LeadClass.EARLY_STAGE: 3,
    LeadClass.POOR_FIT: 4,
}


@dataclass(frozen=True)
class Classification:
    lead_class: LeadClass
    priority: int
    reason: str


def classify(*, given_class: LeadClass | None = None, given_priority: int | None = None,
             inquiry: str | None = None, existing_account: str | None = None) -> Classification:
    """Class and priority of a new lead; ``existing_account`` is the account's name."""
    if existing_account:
        cls, why = LeadClass.EXISTING_ACCOUNT, f"matches the account {existing_account}"
    elif given_class is not None:
        cls, why = given_class, "class given by the sender"
    elif inquiry in HIGH_INTENT:
        cls, why = LeadClass.HIGH_INTENT, f"asked for {inquiry}"
    elif inquiry in NOT_SALES:
        cls, why = LeadClass.POOR_FIT, f"{inquiry} inquiry, not a sales target"
    elif inquiry in EARLY_STAGE:
        cls, why = LeadClass.EARLY_STAGE, f"{inquiry} sign-up: relevant, not ready"
    else:
        cls, why = LeadClass.QUALIFICATION_NEEDED, "no buying signal yet: qualify"
    priority = given_priority if given_priority is not None else PRIORITY_BY_CLASS[cls]
    return Classification(cls, priority, why)
