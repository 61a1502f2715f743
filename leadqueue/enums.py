"""Every enumeration of the domain, in one place.

The string values are a public contract: they are stored in the database and
appear in the JSON of ``leadqueue load`` and ``leadqueue queue``.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REP = "rep"
    TEAM_LEAD = "team_lead"
    ADMIN = "admin"


class LeadStatus(StrEnum):
    NEW = "new"
    WORKING = "working"
    MEETING = "meeting"
    NURTURE = "nurture"
    NO_RESPONSE = "no_response"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"

    @property
    def is_active(self) -> bool:
        """Active leads are the ones the follow-up rules still drive."""
        return self in (LeadStatus.NEW, LeadStatus.WORKING)

    @property
    def is_terminal(self) -> bool:
        return self in (LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED)


class LeadClass(StrEnum):
    HIGH_INTENT = "high_intent"
    QUALIFICATION_NEEDED = "qualification_needed"
    EARLY_STAGE = "early_stage"
    POOR_FIT = "poor_fit"
    EXISTING_ACCOUNT = "existing_account"


class NextStepKind(StrEnum):
    CALLBACK = "callback"
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"
    OTHER = "other"


class ActivityKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"
    NOTE = "note"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class CallOutcome(StrEnum):
    CONNECTED = "connected"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    BAD_NUMBER = "bad_number"
    MEETING_BOOKED = "meeting_booked"
    NOT_INTERESTED = "not_interested"


class Channel(StrEnum):
    """How a cadence step or a template reaches the lead."""

    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"


class DisqualifyReason(StrEnum):
    POOR_FIT = "poor_fit"
    WRONG_CONTACT = "wrong_contact"
    DUPLICATE = "duplicate"
    COMPETITOR = "competitor"
    NO_BUDGET = "no_budget"
    OTHER = "other"


class NoResponseReason(StrEnum):
    CADENCE_EXHAUSTED = "cadence_exhausted"
    BAD_CONTACT_DATA = "bad_contact_data"
    UNREACHABLE = "unreachable"
    OTHER = "other"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class RoutingMethod(StrEnum):
    REP = "rep"
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    POOL = "pool"


class NotificationLevel(StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"
    QUIET = "quiet"


class DataIssue(StrEnum):
    """Flags on a lead whose contact data could not be normalised.

    Bad data is kept and shown, never dropped: the flag tells the rep why the
    phone cannot be dialled or why local time is a guess.
    """

    PHONE_UNPARSEABLE = "phone_unparseable"
    TIMEZONE_UNKNOWN = "timezone_unknown"
    #: A call found the number wrong or dead (outcome wrong/bad number).
    PHONE_WRONG = "phone_wrong"
    #: Kept as typed on manual entry, but not an email address.
    EMAIL_INVALID = "email_invalid"
