"""What a rep does to a lead: log calls and touches, notes, corrections, next
steps, snoozes, status changes, manual entry (issue 3).

Each public function is one unit of work inside the caller's session (the
workspace opens one small transaction per action): it checks the rules,
changes the lead, appends activities, and writes an ``audit_log`` entry with
the acting person in the same transaction. Rule refusals raise
:class:`~leadqueue.errors.ActionRefused` with a message for the rep.

The rules, in one place:

- **Who**: the lead's owner, a team lead of the lead's team (or of its
  owner's team) or an admin. A rep cannot act on another rep's lead, nor on
  a pool lead before claiming it.
- **History is append-only**: a mis-logged entry is corrected by a new
  activity with ``supersedes_id``; the superseded one stays, and only the
  newest entry of a chain can be corrected.
- **An outbound touch** (call, email, SMS, social) sets ``first_action_at``
  once (speed-to-lead), ``last_action_at``, counts an attempt, moves a new
  lead to working, and completes the next step that was due (one due within
  the callback lead time, 5 min): the rep sets the next one at wrap-up.
- **An inbound reply** is the lead's action, not the rep's: it ends the
  active cadence enrollment (pause on reply), moves a new lead to working and
  proposes answering it; it is recorded as inbound, which is what contact
  rates count. An inbound *call* the rep answered with a conversation
  (connected, meeting booked, not interested) is also the rep's response: it
  sets the action dates (not an attempt).
- **Call outcomes** follow ``rules.outcomes``: the facts apply at once (a
  wrong or bad number flags the phone ``phone_wrong``; a booked meeting sets
  status meeting and ends the cadence; not interested ends the cadence), the
  next step and any other status are proposed and applied only when the rep
  confirms them (``set_next_step``, ``set_status``, ``disqualify``).
- **Wrap-up** (:func:`wrap_up_state`): an active lead the rep worked since
  opening it needs a next step kind and a date not before the moment it was
  opened (a step dated "now" was decided in this visit; a step left over from
  before the visit is in the past); a lead moved out of the active statuses
  needs that status's reason (disqualify reason; no-response reason).
- **Manual entry** keeps bad contact data and flags it (``data_issues``)
  instead of refusing it.

What stays with the rule engine (``leadqueue.engine``): enrolling leads in
cadences, stepping an enrollment forward after a touch, scoring.
"""

from __future__ import annotations

import uuid
from dataclasses import fields as dc_fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .contact import normalize_email, phone_and_zone, valid_timezone
from .enums import (
    ActivityKind,
    CallOutcome,
    Channel,
    DataIssue,
    Direction,
    DisqualifyReason,
    EnrollmentStatus,
    LeadClass,
    LeadStatus,
    NextStepKind,
    NoResponseReason,
    Role,
)
from .errors import ActionRefused, LeadNotFound
from .model import (
    Activity,
    AuditEntry,
    Cadence,
    CadenceEnrollment,
    CadenceStep,
    Lead,
    Team,
    Template,
    User,
)
from .queue import CALLBACK_LEAD_TIME, cadence_step_label
from .rules import lifecycle
from .rules.cadence import step_due_at
from .rules.calling_window import DEFAULT_WINDOW_END, DEFAULT_WINDOW_START
from .rules.outcomes import (
    RECYCLE_AFTER,
    CadenceStepDue,
    OutcomeContext,
    OutcomeProposal,
    propose,
    propose_after_reply,
    propose_after_touch,
)
from .views import ActivityView, ContactEdit, NewLead, OutcomeResult, PersonView, WrapUp

#: Outcomes of an inbound call that mean the rep talked with the lead.
CONVERSATION = frozenset({CallOutcome.CONNECTED, CallOutcome.MEETING_BOOKED,
                          CallOutcome.NOT_INTERESTED})
#: Statuses a rep may set by hand (``new`` is where leads start, never a choice).
SETTABLE_STATUSES = (LeadStatus.WORKING, LeadStatus.MEETING, LeadStatus.CONVERTED,
                     LeadStatus.NURTURE, LeadStatus.NO_RESPONSE, LeadStatus.DISQUALIFIED)
#: How far in the past a next step may be dated (a step "now" confirmed a
#: few seconds after the proposal was made).
NEXT_STEP_GRACE = timedelta(minutes=1)
TOUCH_KINDS = (ActivityKind.EMAIL, ActivityKind.SMS, ActivityKind.SOCIAL)
# --------------------------------------------------------------------------- helpers


def _status_on_shared_db(s: Session, lead: Lead) -> None:
    """Write ``lead.status`` through ``lq_set_status`` where the database
    refuses a direct UPDATE of the column (a rep or team lead on the shared
    database: column privileges, ``leadqueue.shared.sql``).

    The server function checks the caller and, for a lead I hold under a
    claim, my lease epoch (fencing); the ORM then treats the status as
    written, and flushes the other columns as usual in the same transaction.
    A local store, an admin and the database owner write it directly.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm.attributes import set_committed_value

    conn = s.connection()
    if conn.dialect.name != "postgresql" or conn.scalar(
            text("SELECT has_column_privilege('leads', 'status', 'UPDATE')")):
        return
    epoch = conn.scalar(text(
        "SELECT epoch FROM lead_leases WHERE lead_id = :lead AND holder_id = lq_me() "
        "AND released_at IS NULL ORDER BY epoch DESC LIMIT 1"), {"lead": lead.id})
    try:
        conn.execute(text("SELECT lq_set_status(:lead, :status, :epoch)"),
                     {"lead": lead.id, "status": LeadStatus(lead.status).value,
                      "epoch": epoch})
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        if code == "LQ409":
            raise ActionRefused("Your claim on this lead has run out (or it was claimed "
                                "again): refresh the queue; nothing was changed.") from None
        if code in ("LQ403", "LQ404", "42501"):
            raise ActionRefused("The shared database did not let you change this lead's "
                                "status (not yours any more?): refresh the queue.") from None
        raise
    set_committed_value(lead, "status", lead.status)


def _words(value: str) -> str:
    return value.replace("_", " ")


def _choices(enum: Any) -> str:
    return ", ".join(_words(m.value) for m in enum)


def _parse(enum: Any, value: Any, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ActionRefused(f"Unknown {what} {value!r}: choose one of {_choices(enum)}.") from None


def _aware(when: datetime, what: str) -> datetime:
    if not isinstance(when, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {when!r}")
    return when


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.value if hasattr(value, "value") else value


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


class _Act:
    """One action in progress: the session, who acts, and when."""

    def __init__(self, session: Session, me: PersonView, now: datetime) -> None:
        self.s = session
        self.me = me
        self.now = now

    # -- reading and permission

    def lead(self, lead_id: uuid.UUID, *, write: bool = True) -> Lead:
        query = select(Lead).where(Lead.id == lead_id)
        if write and self.s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        lead = self.s.scalars(query).one_or_none()
        if lead is None or lead.deleted_at is not None:
            raise LeadNotFound("This lead no longer exists (deleted or merged).")
        if lead.merged_into_id is not None:
            raise ActionRefused("This lead was merged into another one: work that lead instead.")
        self.check_may_act(lead)
        return lead

    def check_may_act(self, lead: Lead) -> None:
        me = self.me
        if lead.owner_id == me.id or me.role == Role.ADMIN.value:
            return
        if me.role == Role.TEAM_LEAD.value and me.team_id is not None:
            if lead.team_id == me.team_id:
                return
            owner_team = self.s.scalar(select(User.team_id).where(User.id == lead.owner_id)) \
                if lead.owner_id else None
            if owner_team == me.team_id:
                return
        if lead.owner_id is None:
            raise ActionRefused("This lead is in the team pool: claim it before working it.")
        owner = self.s.scalar(select(User.name).where(User.id == lead.owner_id))
        raise ActionRefused(
            f"This lead belongs to {owner or 'another rep'}: only its owner, their team lead "
            "or an admin can change it.")

    # -- writing

    def set(self, lead: Lead, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        diff: dict[str, tuple[Any, Any]] = {}
        for name, value in changes.items():
            old = getattr(lead, name)
            if old != value:
                diff[name] = (old, value)
                setattr(lead, name, value)
        if diff:
            lead.updated_at = self.now
            lead.version = (lead.version or 1) + 1
            if "status" in diff:  # issue 5: the shared database's fenced status write
                _status_on_shared_db(self.s, lead)
        return diff

    def audit(self, rule: str, entity_id: uuid.UUID, diff: dict[str, tuple[Any, Any]],
              reason: str, entity: str = "lead") -> None:
        self.s.add(AuditEntry(
            at=self.now, actor_id=self.me.id, actor="app", rule=rule, entity=entity,
            entity_id=entity_id,
            change={k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()}, reason=reason))

    def activity(self, lead: Lead, kind: ActivityKind, *, direction: Direction,
                 outcome: CallOutcome | None = None, duration_s: int | None = None,
                 body: str | None = None, at: datetime | None = None,
                 supersedes_id: uuid.UUID | None = None) -> Activity:
        act = Activity(lead_id=lead.id, kind=kind, direction=direction, outcome=outcome,
                       at=at or self.now, author_id=self.me.id, duration_s=duration_s,
                       body=body, supersedes_id=supersedes_id, created_at=self.now)
        self.s.add(act)
        self.s.flush()
        return act

    def touch_changes(self, lead: Lead, *, attempt: bool) -> dict[str, Any]:
        """The fields an outbound touch (or an answered inbound call) sets."""
        changes: dict[str, Any] = {"last_action_at": self.now}
        if lead.first_action_at is None:
            changes["first_action_at"] = self.now
        if attempt:
            changes["attempts"] = (lead.attempts or 0) + 1
        if lead.status == LeadStatus.NEW:
            changes["status"] = LeadStatus.WORKING
        if lead.next_step_at is not None and lead.next_step_at <= self.now + CALLBACK_LEAD_TIME:
            # This touch is the step that was due: done. The rep sets the next
            # one at wrap-up (the proposal pre-fills it).
            changes.update(next_step=None, next_step_kind=None, next_step_at=None)
        return changes

    def end_cadence(self, lead: Lead, reason: str) -> bool:
        ended = False
        for enr in self.s.scalars(select(CadenceEnrollment).where(
                CadenceEnrollment.lead_id == lead.id,
                CadenceEnrollment.status == EnrollmentStatus.ACTIVE,
                CadenceEnrollment.deleted_at.is_(None))):
            enr.status = EnrollmentStatus.STOPPED
            enr.ended_at = self.now
            enr.end_reason = reason
            enr.updated_at = self.now
            enr.version = (enr.version or 1) + 1
            self.audit("cadence_end", enr.id, {"status": ("active", "stopped")},
                       f"cadence ended: {_words(reason)}", entity="cadence_enrollment")
            ended = True
        return ended

    def flag(self, lead: Lead, issue: DataIssue, on: bool = True) -> dict[str, Any]:
        issues = list(lead.data_issues or [])
        if on and issue.value not in issues:
            return {"data_issues": [*issues, issue.value]}
        if not on and issue.value in issues:
            return {"data_issues": [i for i in issues if i != issue.value]}
        return {}

    # -- rules context

    def window(self, lead: Lead) -> tuple[str, str]:
        team_id = lead.team_id or self.me.team_id
        if team_id is None:
            return DEFAULT_WINDOW_START, DEFAULT_WINDOW_END
        row = self.s.execute(select(Team.calling_window_start, Team.calling_window_end)
                             .where(Team.id == team_id)).one_or_none()
        if row is None:
            return DEFAULT_WINDOW_START, DEFAULT_WINDOW_END
        return row[0] or DEFAULT_WINDOW_START, row[1] or DEFAULT_WINDOW_END

    def next_cadence_step(self, lead: Lead, *, completing: bool) -> CadenceStepDue | None:
        """The cadence step that comes after this touch, if the lead is enrolled.

        ``completing``: an outbound touch completes the step the enrollment
        had scheduled (as the engine counts it: any touch after the step was
        scheduled), so the one after it is next.
        """
        enr = self.s.scalars(select(CadenceEnrollment).where(
            CadenceEnrollment.lead_id == lead.id,
            CadenceEnrollment.status == EnrollmentStatus.ACTIVE,
            CadenceEnrollment.deleted_at.is_(None)).order_by(CadenceEnrollment.enrolled_at.desc())
        ).first()
        if enr is None:
            return None
        steps = list(self.s.scalars(select(CadenceStep).where(
            CadenceStep.cadence_id == enr.cadence_id, CadenceStep.deleted_at.is_(None))
            .order_by(CadenceStep.position)))
        position = enr.current_step + (1 if completing and enr.step_scheduled_at else 0)
        remaining = [st for st in steps if st.position >= position]
        if not remaining:
            return None
        step = remaining[0]
        cadence = self.s.get(Cadence, enr.cadence_id)
        start, _ = self.window(lead)
        due = step_due_at(enr.enrolled_at, step.day_offset, lead.timezone, step.local_time, start,
                          cadence.skip_weekends if cadence else True)
        label = cadence_step_label({st.position: st.channel.value for st in steps},
                                   step.position)
        assert label is not None  # step is one of steps
        return CadenceStepDue(step.channel, due, label)

    def context(self, lead: Lead, *, completing: bool) -> OutcomeContext:
        start, end = self.window(lead)
        zone = lead.timezone if valid_timezone(lead.timezone) else None
        return OutcomeContext(self.now, LeadStatus(lead.status), zone, start, end,
                              self.next_cadence_step(lead, completing=completing))

    # -- shared by log_call / log_inbound / correct_activity

    def apply_outcome_facts(self, lead: Lead, outcome: CallOutcome,
                            proposal: OutcomeProposal) -> tuple[dict[str, Any], bool]:
        """The facts an outcome establishes at once; returns (changes, cadence ended)."""
        changes: dict[str, Any] = {}
        if proposal.flag_phone:
            changes.update(self.flag(lead, DataIssue.PHONE_WRONG))
        ended = False
        if outcome is CallOutcome.MEETING_BOOKED and not LeadStatus(lead.status).is_terminal:
            changes["status"] = LeadStatus.MEETING
        if proposal.end_cadence:
            ended = self.end_cadence(lead, outcome.value)
        return changes, ended


def _result(act: Activity, lead: Lead, proposal: OutcomeProposal, *, phone_flagged: bool,
            cadence_ended: bool) -> OutcomeResult:
    return OutcomeResult(
        activity_id=act.id, status=LeadStatus(lead.status).value,
        proposed_status=proposal.next_status.value,
        next_step_kind=proposal.step_kind.value if proposal.step_kind else None,
        next_step_at=proposal.step_at, next_step_text=proposal.step_text,
        alternative_status=proposal.alternative_status.value
        if proposal.alternative_status else None,
        phone_flagged=phone_flagged, cadence_ended=cadence_ended,
    )


def activity_view(act: Activity, author_name: str | None) -> ActivityView:
    return ActivityView(
        id=act.id, kind=ActivityKind(act.kind).value, direction=Direction(act.direction).value,
        outcome=CallOutcome(act.outcome).value if act.outcome else None, at=act.at,
        author_name=author_name, duration_s=act.duration_s, body=act.body,
        supersedes_id=act.supersedes_id)


# --------------------------------------------------------------------------- actions


def acknowledge(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID) -> bool:
    """The owner opened the lead: ``acknowledged_at`` is set once.

    Someone else opening it (a team lead looking over it) is not the owner's
    acknowledgement: nothing is written. Returns whether anything changed.
    """
    act = _Act(s, me, now)
    lead = act.lead(lead_id)
    if lead.owner_id != me.id or lead.acknowledged_at is not None:
        return False
    diff = act.set(lead, {"acknowledged_at": now})
    act.audit("acknowledge", lead.id, diff, "the owner opened the lead")
    return True


def log_call(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, outcome: str, *,
             duration_s: int | None = None, note: str | None = None) -> OutcomeResult:
    act = _Act(s, me, now)
    result = _parse(CallOutcome, outcome, "call outcome")
    if duration_s is not None and (not isinstance(duration_s, int) or duration_s < 0):
        raise ActionRefused(f"Call duration must be zero or more seconds, not {duration_s!r}.")
    lead = act.lead(lead_id)
    proposal = propose(result, act.context(lead, completing=True))
    activity = act.activity(lead, ActivityKind.CALL, direction=Direction.OUTBOUND,
                            outcome=result, duration_s=duration_s, body=_clean(note))
    changes = act.touch_changes(lead, attempt=True)
    facts, ended = act.apply_outcome_facts(lead, result, proposal)
    changes.update(facts)
    diff = act.set(lead, changes)
    act.audit("log_call", lead.id, diff, f"call logged: {_words(result.value)}"
              + (f" ({duration_s} s)" if duration_s else ""))
    return _result(activity, lead, proposal, phone_flagged=proposal.flag_phone,
                   cadence_ended=ended)


def log_touch(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, kind: str, *,
              body: str | None = None) -> OutcomeResult:
    act = _Act(s, me, now)
    touch = _parse(ActivityKind, kind, "touch")
    if touch not in TOUCH_KINDS:
        raise ActionRefused("A touch is an email, an SMS or a social touch: log calls with "
                            "their outcome, and notes as notes.")
    lead = act.lead(lead_id)
    proposal = propose_after_touch(Channel(touch.value), act.context(lead, completing=True))
    activity = act.activity(lead, touch, direction=Direction.OUTBOUND, body=_clean(body))
    diff = act.set(lead, act.touch_changes(lead, attempt=True))
    act.audit("log_touch", lead.id, diff, f"{touch.value} logged")
    return _result(activity, lead, proposal, phone_flagged=False, cadence_ended=False)


def log_inbound(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, kind: str, *,
                body: str | None = None, outcome: str | None = None) -> OutcomeResult:
    act = _Act(s, me, now)
    inbound = _parse(ActivityKind, kind, "inbound kind")
    if inbound is ActivityKind.NOTE:
        raise ActionRefused("An inbound touch is a call, an email, an SMS or a social message.")
    result = _parse(CallOutcome, outcome, "call outcome") if outcome else None
    if result is not None and inbound is not ActivityKind.CALL:
        raise ActionRefused(f"An outcome is for calls only, not for an inbound {inbound.value}.")
    lead = act.lead(lead_id)
    ctx = act.context(lead, completing=False)
    proposal = propose(result, ctx) if result is not None else propose_after_reply(ctx)
    activity = act.activity(lead, inbound, direction=Direction.INBOUND, outcome=result,
                            body=_clean(body))
    # Recorded on the lead, so a reply on a working lead changes the row (and
    # the engine rescores it from the row, without re-reading its activities).
    changes: dict[str, Any] = {"last_inbound_at": activity.at}
    if result in CONVERSATION:
        changes.update(act.touch_changes(lead, attempt=False))
    elif lead.status == LeadStatus.NEW:
        changes["status"] = LeadStatus.WORKING
    ended = act.end_cadence(lead, "replied")  # pause on reply, whatever was said
    phone_flagged = False
    if result is not None:
        facts, _ = act.apply_outcome_facts(lead, result, proposal)
        changes.update(facts)
        phone_flagged = proposal.flag_phone
    diff = act.set(lead, changes)
    act.audit("log_inbound", lead.id, diff, f"inbound {inbound.value} logged"
              + (f": {_words(result.value)}" if result else ""))
    return _result(activity, lead, proposal, phone_flagged=phone_flagged, cadence_ended=ended)


def add_note(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID,
             body: str) -> ActivityView:
    act = _Act(s, me, now)
    text = _clean(body)
    if not text:
        raise ActionRefused("A note needs some text.")
    lead = act.lead(lead_id)
    activity = act.activity(lead, ActivityKind.NOTE, direction=Direction.OUTBOUND, body=text)
    act.audit("add_note", activity.id, {}, "note added", entity="activity")
    return activity_view(activity, me.name)


def correct_activity(s: Session, me: PersonView, now: datetime, activity_id: uuid.UUID, *,
                     outcome: str | None = None, body: str | None = None) -> ActivityView:
    """Correct a mis-logged entry with a new one that supersedes it.

    The correction keeps the original's kind, direction, time and duration;
    it takes the new outcome and/or text. Facts the outcomes establish are
    re-applied: a phone flagged by a wrong-number outcome is unflagged when no
    other standing entry says so; a meeting status that came from a booked
    meeting goes back to working. A cadence that ended stays ended (the
    engine does not restart sequences).
    """
    act = _Act(s, me, now)
    if outcome is None and body is None:
        raise ActionRefused("Nothing to correct: give the right outcome or text.")
    original = s.get(Activity, activity_id)
    if original is None:
        raise LeadNotFound("That history entry does not exist.")
    lead = act.lead(original.lead_id)
    newer = s.scalar(select(Activity.id).where(Activity.supersedes_id == original.id))
    if newer is not None:
        raise ActionRefused("This entry was already corrected: correct the newest entry instead.")
    kind = ActivityKind(original.kind)
    old_outcome = CallOutcome(original.outcome) if original.outcome else None
    new_outcome = old_outcome
    if outcome is not None:
        if kind is not ActivityKind.CALL:
            raise ActionRefused(f"An outcome is for calls only, not for a {kind.value}.")
        new_outcome = _parse(CallOutcome, outcome, "call outcome")
    text = original.body if body is None else _clean(body)
    correction = act.activity(lead, kind, direction=Direction(original.direction),
                              outcome=new_outcome, duration_s=original.duration_s, body=text,
                              at=original.at, supersedes_id=original.id)
    changes: dict[str, Any] = {}
    if new_outcome != old_outcome:
        wrong = (CallOutcome.WRONG_NUMBER, CallOutcome.BAD_NUMBER)
        if old_outcome in wrong and new_outcome not in wrong:
            standing = _standing_outcomes(s, lead.id)
            if not any(o in wrong for o in standing):
                changes.update(act.flag(lead, DataIssue.PHONE_WRONG, on=False))
        if (old_outcome is CallOutcome.MEETING_BOOKED and lead.status == LeadStatus.MEETING
                and CallOutcome.MEETING_BOOKED not in _standing_outcomes(s, lead.id)):
            changes["status"] = LeadStatus.WORKING
        if new_outcome is not None:
            proposal = propose(new_outcome, act.context(lead, completing=False))
            facts, _ = act.apply_outcome_facts(lead, new_outcome, proposal)
            changes.update(facts)
    diff = act.set(lead, changes)
    what = (f"outcome {_words(old_outcome.value) if old_outcome else 'none'} -> "
            f"{_words(new_outcome.value) if new_outcome else 'none'}"
            if new_outcome != old_outcome else "text corrected")
    act.audit("correct_activity", lead.id,
              {**diff, "supersedes_id": (None, original.id), "activity_id": (None, correction.id)},
              f"history corrected: {what}")
    return activity_view(correction, me.name)


def _standing_outcomes(s: Session, lead_id: uuid.UUID) -> list[CallOutcome]:
    """Outcomes of the lead's calls that no later entry supersedes."""
    rows = s.execute(select(Activity.id, Activity.outcome, Activity.supersedes_id)
                     .where(Activity.lead_id == lead_id, Activity.kind == ActivityKind.CALL)).all()
    superseded = {r.supersedes_id for r in rows if r.supersedes_id is not None}
    return [CallOutcome(r.outcome) for r in rows if r.id not in superseded and r.outcome]


def snooze(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID,
           until: datetime) -> None:
    act = _Act(s, me, now)
    until = _aware(until, "until")
    if until <= now:
        raise ActionRefused("Snooze until a time in the future.")
    lead = act.lead(lead_id)
    if not LeadStatus(lead.status).is_active:
        raise ActionRefused(f"Only active leads can be snoozed; this one is "
                            f"{_words(LeadStatus(lead.status).value)}.")
    diff = act.set(lead, {"snoozed_until": until})
    act.audit("snooze", lead.id, diff, f"snoozed until {until.isoformat()}")


def set_next_step(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, kind: str,
                  at: datetime, text: str | None = None) -> None:
    act = _Act(s, me, now)
    step = _parse(NextStepKind, kind, "next step kind")
    at = _aware(at, "at")
    if at < now - NEXT_STEP_GRACE:
        raise ActionRefused("The next step's date is in the past: pick a time from now on.")
    lead = act.lead(lead_id)
    if LeadStatus(lead.status).is_terminal:
        raise ActionRefused(f"This lead is {_words(LeadStatus(lead.status).value)}: "
                            "a closed lead has no next step.")
    label = _clean(text) or {NextStepKind.CALLBACK: "Call back as promised"}.get(
        step, f"{step.value.capitalize()}")
    diff = act.set(lead, {"next_step": label, "next_step_kind": step, "next_step_at": at})
    act.audit("set_next_step", lead.id, diff, f"next step: {step.value} at {at.isoformat()}")


def set_status(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, status: str, *,
               reason: str | None = None, note: str | None = None) -> None:
    """Move a lead to another status with its reason.

    - ``disqualified``: as :func:`disqualify` (a standard reason; "other" needs a note);
    - ``no_response``: ``reason`` is a no-response reason (required);
    - ``nurture``: a recycle date 90 days on and a recycle check-in as next step;
    - ``meeting``: ends the cadence; ``converted``: closed, ``reason``/``note`` is
      the final outcome;
    - ``working``: reopens a lead that is not closed.

    Leaving the active statuses ends the cadence enrollment. A ``note`` is
    added to the history as a note.
    """
    target = _parse(LeadStatus, status, "status")
    if target not in SETTABLE_STATUSES:
        raise ActionRefused(f"A lead cannot be set back to {_words(target.value)}; choose one "
                            f"of {', '.join(_words(x.value) for x in SETTABLE_STATUSES)}.")
    if target is LeadStatus.DISQUALIFIED:
        if not reason:
            raise ActionRefused(
                f"Disqualifying needs a standard reason: {_choices(DisqualifyReason)}.")
        disqualify(s, me, now, lead_id, reason, note)
        return
    act = _Act(s, me, now)
    lead = act.lead(lead_id)
    current = LeadStatus(lead.status)
    if current.is_terminal and target is not current:
        raise ActionRefused(f"This lead is {_words(current.value)}: it is closed. "
                            "Create a new lead for new business.")
    changes: dict[str, Any] = {"status": target}
    why = f"status {current.value} -> {target.value}"
    if target is LeadStatus.NO_RESPONSE:
        if not reason:
            raise ActionRefused(f"No response needs a reason: {_choices(NoResponseReason)}.")
        changes["no_response_reason"] = _parse(NoResponseReason, reason, "no-response reason")
        changes.update(next_step=None, next_step_kind=None, next_step_at=None, snoozed_until=None)
    elif target is LeadStatus.NURTURE:
        recycle_at = now + RECYCLE_AFTER
        changes.update(recycle_at=recycle_at, next_step="Recycle check-in: has anything changed?",
                       next_step_kind=NextStepKind.EMAIL, next_step_at=recycle_at,
                       snoozed_until=None)
    elif target is LeadStatus.CONVERTED:
        changes.update(final_outcome=(_clean(reason) or _clean(note) or "converted")[:200],
                       next_step=None, next_step_kind=None, next_step_at=None,
                       snoozed_until=None)
    elif target is LeadStatus.WORKING:
        changes.update(no_response_reason=None, recycle_at=None)
    if reason and target not in (LeadStatus.NO_RESPONSE, LeadStatus.CONVERTED):
        why += f": {reason.strip()}"
    diff = act.set(lead, changes)
    if not target.is_active:
        act.end_cadence(lead, target.value)
    if _clean(note):
        act.activity(lead, ActivityKind.NOTE, direction=Direction.OUTBOUND,
                     body=f"Status {_words(target.value)}: {_clean(note)}")
    act.audit("set_status", lead.id, diff, why)


def disqualify(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID, reason: str,
               note: str | None = None) -> None:
    act = _Act(s, me, now)
    if reason not in {r.value for r in DisqualifyReason}:
        raise ActionRefused(
            f"Choose a standard reason to disqualify: {_choices(DisqualifyReason)}.")
    if reason == DisqualifyReason.OTHER.value and not _clean(note):
        raise ActionRefused("Reason 'other' needs a note saying why.")
    lead = act.lead(lead_id)
    if LeadStatus(lead.status) is LeadStatus.CONVERTED:
        raise ActionRefused("This lead is converted: it is closed and cannot be disqualified.")
    change = lifecycle.disqualify(reason, _clean(note))
    diff = act.set(lead, {**change.changes, "snoozed_until": None})
    act.end_cadence(lead, "disqualified")
    act.audit(change.rule, lead.id, diff, change.reason)


def wrap_up_state(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID,
                  since: datetime) -> WrapUp:
    """Whether the rep may leave the lead they opened at ``since`` (read only)."""
    since = _aware(since, "since")
    lead = s.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise LeadNotFound("This lead no longer exists (deleted or merged).")
    worked = s.scalar(select(Activity.id).where(
        Activity.lead_id == lead_id, Activity.author_id == me.id,
        Activity.created_at >= since).limit(1)) is not None
    if not worked:
        return WrapUp(True, False)
    status = LeadStatus(lead.status)
    missing: list[str] = []
    if status.is_active:
        if lead.next_step_kind is None:
            missing.append("next_step_kind")
        if lead.next_step_at is None or lead.next_step_at < since:
            missing.append("next_step_at")
        if missing:
            stale = lead.next_step_at is not None and lead.next_step_at < since
            return WrapUp(False, True, tuple(missing), (
                "The next step is from before this visit: set a new next step and its date"
                if stale and lead.next_step_kind is not None else
                "Set a next step and its date")
                + ", or close the lead with a status and its reason, before moving on.")
        return WrapUp(True, True)
    if status is LeadStatus.DISQUALIFIED and lead.disqualify_reason is None:
        missing.append("disqualify_reason")
    if status is LeadStatus.NO_RESPONSE and lead.no_response_reason is None:
        missing.append("no_response_reason")
    if status is LeadStatus.NURTURE and lead.recycle_at is None and lead.next_step_at is None:
        missing.append("recycle_at")
    if missing:
        return WrapUp(False, True, tuple(missing),
                      f"A lead that is {_words(status.value)} needs its "
                      f"{_words(missing[0]).replace(' at', ' date')} before moving on.")
    return WrapUp(True, True)


# --------------------------------------------------------------------------- contact data


def _contact(phone: str | None, country: str | None, zone: str | None,
             email: str | None) -> dict[str, Any]:
    """Normalised phone/zone/email and the flags for what did not normalise."""
    result, zone, issues = phone_and_zone(phone, country, zone)
    try:
        mail = normalize_email(email)
    except ValueError:
        mail = email.strip().lower() if email else None
        issues.append(DataIssue.EMAIL_INVALID.value)
    return {"phone": result.e164 or _clean(phone), "phone_display": result.display,
            "timezone": zone, "country": country or result.region, "email": mail,
            "data_issues": issues}


_CONTACT_ISSUES = {DataIssue.PHONE_UNPARSEABLE.value, DataIssue.TIMEZONE_UNKNOWN.value,
                   DataIssue.EMAIL_INVALID.value}


def create_lead(s: Session, me: PersonView, now: datetime, new: NewLead) -> uuid.UUID:
    """A lead typed in by hand, owned by the person who typed it."""
    from .queue import _policy
    from .rules.sla import first_response_deadline

    act = _Act(s, me, now)
    first, last = _clean(new.first_name), _clean(new.last_name)
    if not first or not last:
        raise ActionRefused("A new lead needs a first and a last name.")
    if not isinstance(new.priority, int) or not 1 <= new.priority <= 4:
        raise ActionRefused(f"Priority goes from 1 (fastest) to 4, not {new.priority!r}.")
    lead_class = _parse(LeadClass, new.lead_class, "lead class")
    external_id = _clean(new.external_id)
    if external_id and s.scalar(select(Lead.id).where(Lead.external_id == external_id)):
        raise ActionRefused(f"A lead with external id {external_id!r} already exists.")
    if new.company_size is not None and (not isinstance(new.company_size, int)
                                         or new.company_size < 0):
        raise ActionRefused(f"Company size must be zero or more, not {new.company_size!r}.")
    country = _clean(new.country)
    contact = _contact(_clean(new.phone), country.upper() if country else None,
                       _clean(new.timezone), _clean(new.email))
    target = _policy(s.connection(), me.team_id).sla_target(me.team_id, new.priority)
    lead = Lead(
        external_id=external_id, first_name=first, last_name=last,
        company=_clean(new.company), title=_clean(new.title), source=_clean(new.source),
        owner_id=me.id, team_id=me.team_id, priority=new.priority, lead_class=lead_class,
        status=LeadStatus.NEW, created_at=now, assigned_at=now, state=_clean(new.state),
        territory=_clean(new.territory), company_size=new.company_size,
        product_interest=_clean(new.product_interest), score_breakdown=[],
        sla_due_at=first_response_deadline(now, target), updated_at=now, version=1,
        **contact,
    )
    s.add(lead)
    s.flush()
    act.audit("create_lead", lead.id, {
        "owner_id": (None, me.id), "priority": (None, new.priority),
        "data_issues": (None, contact["data_issues"])},
        "lead entered by hand" + (f"; flagged: {', '.join(contact['data_issues'])}"
                                  if contact["data_issues"] else ""))
    return lead.id


def update_contact(s: Session, me: PersonView, now: datetime, lead_id: uuid.UUID,
                   edit: ContactEdit) -> None:
    act = _Act(s, me, now)
    lead = act.lead(lead_id)
    given = {f.name: getattr(edit, f.name) for f in dc_fields(edit)
             if getattr(edit, f.name) is not None}
    if not given:
        return
    for name in ("first_name", "last_name"):
        if name in given and not _clean(given[name]):
            raise ActionRefused("First and last name cannot be empty.")
    changes: dict[str, Any] = {name: _clean(value) for name, value in given.items()
                               if name not in ("phone", "timezone", "country", "email")}
    if {"phone", "timezone", "country", "email"} & given.keys():
        new_phone = "phone" in given
        phone = _clean(given["phone"]) if new_phone else lead.phone
        country = _clean(given["country"]) if "country" in given else lead.country
        country = country.upper() if country else None
        email = _clean(given["email"]) if "email" in given else lead.email
        if "timezone" in given:
            zone = _clean(given["timezone"])  # empty: derive it from the phone again
        else:
            zone = None if new_phone else lead.timezone
        contact = _contact(phone, country, zone, email)
        if (contact["timezone"] is None and "timezone" not in given
                and valid_timezone(lead.timezone)):
            # A new number that says nothing about place: the lead did not move.
            contact["timezone"] = lead.timezone
            contact["data_issues"] = [i for i in contact["data_issues"]
                                      if i != DataIssue.TIMEZONE_UNKNOWN.value]
        # Flags about the old contact data go; others stay (a wrong-number flag
        # stays until the number itself changes).
        kept = [i for i in (lead.data_issues or []) if i not in _CONTACT_ISSUES
                and not (i == DataIssue.PHONE_WRONG.value and contact["phone"] != lead.phone)]
        changes.update(contact, data_issues=kept + contact["data_issues"])
    diff = act.set(lead, changes)
    act.audit("update_contact", lead.id, diff, "contact fields edited")


# --------------------------------------------------------------------------- reading


def template_for(s: Session, me: PersonView, lead_id: uuid.UUID) -> Any:
    """The template for the lead's current step, merge fields filled (or None).

    The active cadence's current step's template; else the default template
    for the next step's channel; a lead never worked gets the call script
    (phone first while intent is hot); otherwise None.
    """
    from .templates import default_template, merge_values, render

    lead = s.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise LeadNotFound("This lead no longer exists (deleted or merged).")
    template = None
    enr = s.scalars(select(CadenceEnrollment).where(
        CadenceEnrollment.lead_id == lead.id, CadenceEnrollment.status == EnrollmentStatus.ACTIVE,
        CadenceEnrollment.deleted_at.is_(None))).first()
    if enr is not None:
        template_id = s.scalar(select(CadenceStep.template_id).where(
            CadenceStep.cadence_id == enr.cadence_id, CadenceStep.position == enr.current_step,
            CadenceStep.deleted_at.is_(None)))
        template = s.get(Template, template_id) if template_id else None
    values = merge_values(lead, me.name)
    if template is not None and template.deleted_at is None:
        return render(template.name, Channel(template.channel).value, template.subject,
                      template.body, values)
    return default_template(lead.next_step_kind, lead.first_action_at, values)
