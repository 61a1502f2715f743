"""Plain frozen views of core data, the only shapes the UI and CLI receive.

Never a live ORM object: a view can cross threads and outlive its session.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PersonView:
    id: uuid.UUID
    email: str
    name: str
    role: str
    team_id: uuid.UUID | None
    team_name: str | None


@dataclass(frozen=True)
class QueueRow:
    """One lead in a rep's queue, as the queue list shows it."""

    id: uuid.UUID
    external_id: str | None
    name: str
    company: str | None
    priority: int
    status: str
    lead_class: str
    source: str | None
    phone: str | None
    email: str | None
    timezone: str | None
    score: int
    created_at: datetime
    next_step: str | None
    next_step_kind: str | None
    next_step_at: datetime | None
    sla_due_at: datetime | None
    tier: int | None = None
    reasons: tuple[str, ...] = ()
    data_issues: tuple[str, ...] = ()
    #: Now on the lead's wall clock (aware, in the lead's zone); None: zone unknown.
    local_time: datetime | None = None
    #: When the lead's calling window opens ("later" rows only).
    window_opens_at: datetime | None = None
    #: When an upcoming row comes due: its snooze end or next step time.
    due_at: datetime | None = None
    snoozed_until: datetime | None = None
    #: e.g. "Step 3 of 6 (call)" while the lead is in an active cadence.
    cadence_step: str | None = None
    #: Lower-cased name, company, email and phone digits, for
    #: ``leadqueue.queue.filter_rows``; built once here so a search over 1M
    #: rows is one substring test per row.
    search_text: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        phone = _NON_DIGITS.sub("", self.phone) if self.phone else ""
        object.__setattr__(self, "search_text", (
            f"{self.name}\x1f{self.company or ''}\x1f{self.email or ''}\x1f{phone}").lower())


_NON_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class RankedQueue:
    """A rep's queue: work now, due but outside the calling window, and coming up."""

    callable: tuple[QueueRow, ...] = ()
    later: tuple[QueueRow, ...] = ()
    upcoming: tuple[QueueRow, ...] = ()


@dataclass(frozen=True)
class TeamQueue:
    """The active leads of the reps a team lead (or admin) oversees, merged."""

    rows: tuple[QueueRow, ...]
    #: Lead id -> the owning rep's name.
    owners: dict[uuid.UUID, str]
    now: datetime


@dataclass(frozen=True)
class OutcomeResult:
    """What logging a call did, and the next step the rules propose.

    The proposal is not applied: the UI pre-fills it and the rep confirms it
    with ``Workspace.set_next_step`` (or chooses another step).
    """

    activity_id: uuid.UUID
    status: str
    proposed_status: str
    next_step_kind: str | None
    next_step_at: datetime | None
    next_step_text: str | None
    #: Another status the rep may choose instead (e.g. disqualified).
    alternative_status: str | None = None
    phone_flagged: bool = False
    cadence_ended: bool = False


@dataclass(frozen=True)
class ActivityView:
    id: uuid.UUID
    kind: str
    direction: str
    outcome: str | None
    at: datetime
    author_name: str | None
    duration_s: int | None
    body: str | None
    supersedes_id: uuid.UUID | None


@dataclass(frozen=True)
class LeadDetail:
    """Everything the preview pane shows about one lead."""

    id: uuid.UUID
    external_id: str | None
    first_name: str
    last_name: str
    company: str | None
    title: str | None
    email: str | None
    phone: str | None
    source: str | None
    lead_class: str
    status: str
    priority: int
    owner_name: str | None
    team_name: str | None
    created_at: datetime
    assigned_at: datetime | None
    acknowledged_at: datetime | None
    first_action_at: datetime | None
    last_action_at: datetime | None
    next_step: str | None
    next_step_kind: str | None
    next_step_at: datetime | None
    snoozed_until: datetime | None
    do_not_contact: bool
    attempts: int
    score: int
    score_breakdown: tuple[tuple[str, int], ...]
    timezone: str | None
    country: str | None
    state: str | None
    territory: str | None
    company_size: int | None
    product_interest: str | None
    no_response_reason: str | None
    disqualify_reason: str | None
    final_outcome: str | None
    data_issues: tuple[str, ...]
    #: The team's calling window ("HH:MM", "HH:MM"), on the lead's wall clock:
    #: the lead's team's, else the viewer's team's (as ranking applies it).
    calling_window: tuple[str, str]
    activities: tuple[ActivityView, ...] = field(default=())
    #: How the lead reached its current owner ("routed: …", "reassigned to Bo
    #: by Tess: Ann is out"), from ``leads.routing_explanation``; None: unknown.
    assignment_why: str | None = None
    #: ``leads.phone_display``: the phone as written for people (shown through
    #: ``contact.display_phone``, which checks it still matches ``phone``).
    phone_display: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class WrapUp:
    """Whether the rep may leave a lead they opened (``Workspace.wrap_up_state``).

    ``worked``: the signed-in person logged something on the lead since they
    opened it. ``missing`` names what is still needed (e.g. ``"next_step_kind"``,
    ``"next_step_at"``, ``"disqualify_reason"``); ``message`` says it in one
    sentence for the rep (empty when complete).
    """

    complete: bool
    worked: bool
    missing: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class NewLead:
    """A lead typed in by hand (``Workspace.create_lead``).

    Contact data is kept as typed when it does not normalise, and flagged
    (``data_issues``) rather than refused: only the names are required.
    ``timezone`` None: derived from the phone number.
    """

    first_name: str
    last_name: str
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    source: str | None = "manual"
    priority: int = 3
    lead_class: str = "qualification_needed"
    timezone: str | None = None
    country: str | None = None
    state: str | None = None
    territory: str | None = None
    company_size: int | None = None
    product_interest: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class ContactEdit:
    """Changes to a lead's contact fields (``Workspace.update_contact``).

    None leaves a field as it is; an empty string clears it (names cannot be
    cleared). A new phone is normalised and its zone derived unless
    ``timezone`` is given too.
    """

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    country: str | None = None
    state: str | None = None
    territory: str | None = None
    product_interest: str | None = None
