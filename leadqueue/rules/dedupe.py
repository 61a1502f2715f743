"""Duplicate detection: leads that share a normalised e-mail or phone.

Pure: takes (id, created_at, email, phone) tuples and returns merge pairs
(older survivor, newer duplicate). Nothing calls it yet: the engine does not
merge leads, and intake finds duplicates by its own contact keys
(``leadqueue.shared.intake``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from .lifecycle import MergeCandidate, merge_plan


@dataclass(frozen=True)
class ContactKey:
    lead_id: uuid.UUID
    created_at: datetime
    email: str | None
    phone: str | None


def _norm_email(email: str | None) -> str | None:
    return email.strip().lower() if email and "@" in email else None


def _norm_phone(phone: str | None) -> str | None:
    # Only E.164 values are comparable; raw unparsed text is not a key.
    return phone.strip() if phone and phone.strip().startswith("+") else None


def duplicate_pairs(leads: list[ContactKey]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(survivor, duplicate) pairs; each duplicate merges into the oldest match."""
    ordered = sorted(leads, key=lambda c: (c.created_at, str(c.lead_id)))
    first_by_key: dict[str, ContactKey] = {}
    pairs: list[tuple[uuid.UUID, uuid.UUID]] = []
    for lead in ordered:
        keys = [k for k in (f"e:{_norm_email(lead.email)}" if _norm_email(lead.email) else None,
                            f"p:{_norm_phone(lead.phone)}" if _norm_phone(lead.phone) else None)
                if k]
        survivor = next((first_by_key[k] for k in keys if k in first_by_key), None)
        if survivor is not None:
            keep, dup = merge_plan(MergeCandidate(survivor.lead_id, survivor.created_at),
                                   MergeCandidate(lead.lead_id, lead.created_at))
            pairs.append((keep, dup))
            for k in keys:
                first_by_key.setdefault(k, survivor)
        else:
            for k in keys:
                first_by_key.setdefault(k, lead)
    return pairs
