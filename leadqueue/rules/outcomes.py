"""Call outcome -> next status and next step, by rule (issue 4, "Call outcome").

Pure: :func:`propose` takes the outcome and plain facts about the lead and
returns an :class:`OutcomeProposal`. The workspace applies the facts an
outcome establishes at once (a booked meeting, a flagged phone) and shows the
proposed next step pre-filled; the step becomes the lead's next step only
when the rep confirms it.

The mapping (the playbook's defaults):

=================  ===========  ====================================================
outcome            next status  next step
=================  ===========  ====================================================
no answer          working      next cadence step; else a call retry in 1 day
voicemail          working      next cadence step; else a call retry in 2 days
busy               working      next cadence step if due sooner; else retry in 30 min
wrong/bad number   working      flag the phone; an email now
meeting booked     meeting      end the cadence; confirm the meeting by email now
not interested     nurture      (or disqualify) a recycle check-in in 90 days
connected          working      a follow-up email in 1 day
=================  ===========  ====================================================

Every proposed time is moved into the lead's calling window, so a retry never
lands at night in the lead's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..enums import CallOutcome, Channel, LeadStatus, NextStepKind
from .calling_window import DEFAULT_WINDOW_END, DEFAULT_WINDOW_START, window_opens_at

#: How long after an unanswered attempt to try again when no cadence says otherwise.
RETRY_AFTER: dict[CallOutcome, timedelta] = {
    CallOutcome.BUSY: timedelta(minutes=30),
    CallOutcome.NO_ANSWER: timedelta(days=1),
    CallOutcome.VOICEMAIL: timedelta(days=2),
}
FOLLOW_UP_AFTER = timedelta(days=1)
RECYCLE_AFTER = timedelta(days=90)

_CHANNEL_TO_KIND = {
    Channel.CALL: NextStepKind.CALL,
    Channel.EMAIL: NextStepKind.EMAIL,
    Channel.SMS: NextStepKind.SMS,
    Channel.SOCIAL: NextStepKind.SOCIAL,
}


@dataclass(frozen=True)
class CadenceStepDue:
    """The cadence step that comes next for the lead, if it is enrolled."""

    channel: Channel
    due_at: datetime
    label: str  # e.g. "Step 3 of 6 (call)"


@dataclass(frozen=True)
class OutcomeContext:
    now: datetime
    status: LeadStatus
    lead_tz: str | None = None
    window_start: str = DEFAULT_WINDOW_START
    window_end: str = DEFAULT_WINDOW_END
    next_cadence_step: CadenceStepDue | None = None


@dataclass(frozen=True)
class OutcomeProposal:
    next_status: LeadStatus
    step_kind: NextStepKind | None
    step_at: datetime | None
    step_text: str | None
    #: The phone number is wrong or dead: flag it on the lead.
    flag_phone: bool = False
    #: The outcome ends the lead's cadence enrollment (pause on reply/meeting).
    end_cadence: bool = False
    #: Another status the rep may choose instead (not interested: disqualify).
    alternative_status: LeadStatus | None = None


def channel_kind(channel: Channel | str) -> NextStepKind:
    return _CHANNEL_TO_KIND[Channel(channel)]


def in_window(at: datetime, ctx: OutcomeContext) -> datetime:
    """``at``, moved to the next opening of the lead's calling window if outside it."""
    opens = window_opens_at(at, ctx.lead_tz, ctx.window_start, ctx.window_end)
    return opens if opens is not None else at


def propose(outcome: CallOutcome | str, ctx: OutcomeContext) -> OutcomeProposal:
    """The next status and next step after a call with ``outcome``."""
    outcome = CallOutcome(outcome)
    now = ctx.now
    stays = ctx.status if not ctx.status.is_active else LeadStatus.WORKING

    if outcome in RETRY_AFTER:
        retry_at = in_window(now + RETRY_AFTER[outcome], ctx)
        step = ctx.next_cadence_step
        label = outcome.value.replace("_", " ")
        if step is not None and not (outcome is CallOutcome.BUSY and step.due_at > retry_at):
            return OutcomeProposal(
                stays, channel_kind(step.channel), in_window(max(step.due_at, now), ctx),
                f"Cadence {step.label[0].lower()}{step.label[1:]} (after {label})",
            )
        return OutcomeProposal(stays, NextStepKind.CALL, retry_at,
                               f"Call again (last call: {label})")

    if outcome in (CallOutcome.WRONG_NUMBER, CallOutcome.BAD_NUMBER):
        label = "wrong number" if outcome is CallOutcome.WRONG_NUMBER else "bad number"
        return OutcomeProposal(
            stays, NextStepKind.EMAIL, in_window(now, ctx),
            f"Email instead: phone flagged ({label}); ask for a good number",
            flag_phone=True,
        )

    if outcome is CallOutcome.MEETING_BOOKED:
        return OutcomeProposal(
            LeadStatus.MEETING, NextStepKind.EMAIL, now,
            "Send the meeting confirmation and agenda", end_cadence=True,
        )

    if outcome is CallOutcome.NOT_INTERESTED:
        return OutcomeProposal(
            LeadStatus.NURTURE, NextStepKind.EMAIL, in_window(now + RECYCLE_AFTER, ctx),
            "Recycle check-in: has anything changed?",
            end_cadence=True, alternative_status=LeadStatus.DISQUALIFIED,
        )

    # Connected: a conversation happened; follow up while it is fresh.
    return OutcomeProposal(
        stays, NextStepKind.EMAIL, in_window(now + FOLLOW_UP_AFTER, ctx),
        "Follow up on the conversation",
    )


#: After an outbound email, SMS or social touch with no cadence step to follow.
TOUCH_FOLLOW_UP_AFTER = timedelta(days=2)


def propose_after_touch(channel: Channel | str, ctx: OutcomeContext) -> OutcomeProposal:
    """The next step after an outbound email, SMS or social touch.

    The lead's next cadence step when it is enrolled; else a call two days
    later (calls first while intent is hot; each touch adds something new).
    """
    label = Channel(channel).value.replace("_", " ")
    stays = ctx.status if not ctx.status.is_active else LeadStatus.WORKING
    step = ctx.next_cadence_step
    if step is not None:
        return OutcomeProposal(
            stays, channel_kind(step.channel), in_window(max(step.due_at, ctx.now), ctx),
            f"Cadence {step.label[0].lower()}{step.label[1:]} (after the {label})",
        )
    return OutcomeProposal(stays, NextStepKind.CALL,
                           in_window(ctx.now + TOUCH_FOLLOW_UP_AFTER, ctx),
                           f"Call to follow up on the {label}")


def propose_after_reply(ctx: OutcomeContext) -> OutcomeProposal:
    """The next step after the lead replied: answer it (the reply ends the cadence)."""
    stays = ctx.status if not ctx.status.is_active else LeadStatus.WORKING
    return OutcomeProposal(stays, NextStepKind.EMAIL, in_window(ctx.now, ctx),
                           "Answer the reply", end_cadence=True)
