"""The preview of the open lead: a live header card and the details below it.

Renders a :class:`PreviewData` (all plain values fetched off the GUI thread).
The :class:`LeadHeader` shows who the lead is, what to do now and the live
countdown to the SLA deadline or due step (moved by the window's one ticker);
data-issue flags sit in it, impossible to miss. The details browser shows why
the lead is next, contact and calling window, the next step, the cadence step
with its template (merge fields filled), the score breakdown and the history
timeline, newest first, with superseded entries struck through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from leadqueue.contact import display_phone
from leadqueue.views import LeadDetail, QueueRow
from ui.actions import OUTCOME_LABELS
from ui.qt import Qt, QtWidgets
from ui.queue_model import PRIORITY_COLORS, format_countdown, zone

_CLASS_LABELS = {
    "high_intent": "High intent", "qualification_needed": "Qualification needed",
    "early_stage": "Good fit, early stage", "poor_fit": "Poor fit",
    "existing_account": "Existing account",
}
_ISSUE_LABELS = {
    "phone_unparseable": "Phone number can't be read",
    "timezone_unknown": "Time zone unknown — local time is a guess",
    "phone_wrong": "Phone flagged as wrong or dead",
}
_STATUS_COLORS = {"new": "#1a73e8", "working": "#2e7d32", "meeting": "#6a1b9a",
                  "nurture": "#00838f", "no_response": "#7b8190",
                  "disqualified": "#7b8190", "converted": "#2e7d32"}
_MUTED = "#667085"
_INK = "#1f2430"
#: The header's countdown by urgency: first response due within 5 min, or late.
_COUNTDOWN_STYLES = {"normal": "", "soon": "color: #d35400; font-weight: 600;",
                     "late": "color: #c62828; font-weight: 600;"}


@dataclass(frozen=True)
class PreviewData:
    detail: LeadDetail
    row: QueueRow | None = None
    cadence_step: str | None = None
    template: Any | None = None  # leadqueue's RenderedTemplate (name, channel, subject, body)


def label(value: str | None) -> str:
    if not value:
        return "—"
    return (OUTCOME_LABELS.get(value) or _CLASS_LABELS.get(value)
            or value.replace("_", " ").capitalize())


def _when(at: datetime | None, tz: str | None = None) -> str:
    if at is None:
        return "—"
    z = zone(tz)
    local = at.astimezone(z) if z else at.astimezone()
    return local.strftime("%a %d %b %H:%M")


def badge(priority: int) -> str:
    color = PRIORITY_COLORS.get(priority, "#757575")
    return (f'<span style="background-color:{color}; color:white; font-weight:600;">'
            f"&nbsp;P{priority}&nbsp;</span>")


def issue_texts(detail: LeadDetail) -> list[str]:
    """The lead's data-issue flags in words, with the raw value kept visible."""
    out = []
    if detail.do_not_contact:
        out.append("Do not contact")
    for issue in detail.data_issues:
        text = _ISSUE_LABELS.get(issue, label(issue))
        if issue == "phone_unparseable" and detail.phone:
            text += f": “{detail.phone}”"
        elif issue == "timezone_unknown" and detail.timezone:
            text += f" (“{detail.timezone}”)"
        out.append(text)
    return out


def next_action(data: PreviewData) -> str:
    """The one thing to do now, in words ("Call — cadence step 2 of 6")."""
    d, row = data.detail, data.row
    if d.status not in ("new", "working"):
        return f"Closed: {label(d.status)}"
    kind = d.next_step_kind or "call"
    verb = {"callback": "Call back", "call": "Call", "email": "Email", "sms": "Text",
            "social": "Social touch"}.get(kind, "Follow up")
    if d.first_action_at is None:
        verb = "First call"
    what = d.next_step or ""
    if what.lower().startswith((verb.lower(), kind)):
        text = what  # "Call back at 14:30" already says it
    else:
        text = verb + (f": {what}" if what else "")
    if data.cadence_step:
        text += f"  ·  {data.cadence_step}"
    if row is not None and row.window_opens_at is not None:
        text += "  ·  calling window closed"
    return text


def _section(title: str) -> str:
    return (f'<p style="margin-top:16px; margin-bottom:4px; color:{_MUTED}; font-size:small;'
            f' font-weight:600;">{escape(title.upper())}</p>')


def _kv(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td style="color:{_MUTED}; padding-right:16px;">{escape(k)}</td>'
        f"<td>{v}</td></tr>"
        for k, v in rows
    )
    return f'<table cellspacing="0" cellpadding="2">{cells}</table>'


def render_html(data: PreviewData, now: datetime) -> str:
    d, row = data.detail, data.row
    out: list[str] = []

    reasons = row.reasons if row is not None else ()
    if reasons:
        out.append(_section("Why this lead now"))
        out.append("<ul style='margin-top:0; margin-left:-20px;'>" + "".join(
            f"<li>{escape(r)}</li>" for r in reasons) + "</ul>")

    z = zone(d.timezone)
    local = now.astimezone(z).strftime("%a %H:%M") if z else "unknown"
    start, end = d.calling_window
    window = f"{start}–{end} their time"
    if not z:
        window += " (can't be applied: time zone unknown)"
    opens = row.window_opens_at if row is not None else None
    if opens is not None:
        window += f" · closed, opens {format_countdown(opens, now)}"
    flagged = set(d.data_issues)
    phone = escape(display_phone(d.phone, d.phone_display) or "—")
    if "phone_unparseable" in flagged or "phone_wrong" in flagged:
        phone = f'<span style="color:#b26a00;">⚠ {phone}</span>'
    out.append(_section("Contact"))
    out.append(_kv([
        ("Phone", phone), ("Email", escape(d.email or "—")),
        ("Local time", f"{escape(local)} ({escape(d.timezone or 'no zone')})"),
        ("Calling window", escape(window)),
        ("Company", escape(", ".join(x for x in (
            d.company, f"{d.company_size} people" if d.company_size else None) if x) or "—")),
        ("Location", escape(", ".join(x for x in (d.state, d.country) if x) or "—")),
        ("Source", escape(label(d.source)) if d.source else "—"),
        ("Class", escape(label(d.lead_class))),
        ("Interest", escape(d.product_interest or "—")),
        ("Owner", escape(d.owner_name or "pool") + (f" · {escape(d.team_name)}"
                                                    if d.team_name else "")),
        *([("Why", escape(d.assignment_why))] if d.assignment_why else []),
    ]))

    out.append(_section("Next step"))
    if d.next_step or d.next_step_at:
        kind = f"{label(d.next_step_kind)}: " if d.next_step_kind else ""
        due = ""
        if d.next_step_at is not None:
            due = (f" — {escape(_when(d.next_step_at, d.timezone))} their time "
                   f"({escape(format_countdown(d.next_step_at, now))})")
        out.append(f"<p style='margin-top:0;'>{escape(kind)}{escape(d.next_step or '')}"
                   f"{due}</p>")
    else:
        out.append('<p style="margin-top:0; color:#c62828;">No next step set</p>')
    if d.snoozed_until is not None and d.snoozed_until > now:
        out.append(f"<p style='color:{_MUTED};'>Snoozed until "
                   f"{escape(_when(d.snoozed_until))}</p>")
    if data.cadence_step:
        out.append(f'<p style="color:#3c4250;">Cadence: {escape(data.cadence_step)}</p>')

    tpl = data.template
    if tpl is not None:
        name = getattr(tpl, "name", "") or ""
        channel = getattr(tpl, "channel", "") or ""
        title = "Template" + (f" · {name}" if name else "") + (
            f" ({label(channel).lower()})" if channel else "")
        out.append(_section(title))
        subject = getattr(tpl, "subject", None)
        body = getattr(tpl, "body", "") or ""
        box = ['<table width="100%" cellpadding="8" cellspacing="0" '
               'style="background-color:#f6f8fb; border:1px solid #e3e7ee;"><tr><td>']
        if subject:
            box.append(f"<p style='margin:0 0 6px 0;'><b>{escape(subject)}</b></p>")
        box.append('<p style="margin:0; color:#2b303a;">'
                   + escape(body).replace("\n", "<br>") + "</p>")
        unknown = getattr(tpl, "unknown_fields", ()) or ()
        if unknown:
            box.append(f"<p style='color:#b26a00;'>Unknown merge fields left as written: "
                       f"{escape(', '.join(unknown))}</p>")
        box.append("</td></tr></table>")
        out.append("".join(box))

    out.append(_section(f"Score {d.score}"))
    rows = [(rule.replace("_", " "), f"{pts:+d}") for rule, pts in d.score_breakdown]
    rows += [("Attempts", str(d.attempts)),
             ("Created", escape(_when(d.created_at))),
             ("First action", escape(_when(d.first_action_at))),
             ("Last action", escape(_when(d.last_action_at)))]
    out.append(_kv(rows))

    out.append(_section(f"History ({len(d.activities)})"))
    if not d.activities:
        out.append(f'<p style="color:{_MUTED};">No activity yet</p>')
    superseded = {a.supersedes_id for a in d.activities if a.supersedes_id}
    for a in d.activities:
        what = label(a.kind)
        if a.direction == "inbound":
            what = f"Inbound {a.kind}"
        if a.outcome:
            what += f" — {label(a.outcome)}"
        if a.duration_s:
            what += f" ({a.duration_s // 60}:{a.duration_s % 60:02d})"
        meta = f"{_when(a.at)} · {a.author_name or 'system'}"
        body = f"<br><span style='color:#3c4250;'>{escape(a.body)}</span>" if a.body else ""
        if a.id in superseded:
            head = (f"<s style='color:#98a0ad;'>{escape(what)}</s>"
                    "&nbsp;<span style='color:#98a0ad;'>(superseded)</span>")
            body = f"<br><s style='color:#98a0ad;'>{escape(a.body)}</s>" if a.body else ""
        else:
            head = f"<b>{escape(what)}</b>"
        if a.supersedes_id:
            body += f"<br><span style='color:{_MUTED};'>↳ corrects an earlier entry</span>"
        out.append(
            f'<p style="margin-top:0; margin-bottom:8px;">{head}'
            f'&nbsp;&nbsp;<span style="color:{_MUTED};">{escape(meta)}</span>{body}</p>'
        )
    return "\n".join(out)


class LeadHeader(QtWidgets.QFrame):
    """Name, priority, what to do now, the live countdown and any data flags."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lead_header")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(4)
        self.title = QtWidgets.QLabel(self)
        self.title.setObjectName("lead_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle = QtWidgets.QLabel(self)
        self.subtitle.setObjectName("lead_subtitle")
        self.action = QtWidgets.QLabel(self)
        self.action.setObjectName("lead_next_action")
        self.action.setWordWrap(True)
        self.countdown = QtWidgets.QLabel(self)
        self.countdown.setObjectName("lead_countdown")
        self._countdown_state = "normal"
        self.flags = QtWidgets.QLabel(self)
        self.flags.setObjectName("lead_flags")
        self.flags.setWordWrap(True)
        for w in (self.title, self.subtitle, self.action, self.countdown, self.flags):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(w)
        self.data: PreviewData | None = None
        self.clear()

    def clear(self) -> None:
        self.data = None
        for w in (self.title, self.subtitle, self.action, self.countdown, self.flags):
            w.clear()
        self.hide()

    def show_lead(self, data: PreviewData, now: datetime) -> None:
        self.data = data
        d = data.detail
        status_color = _STATUS_COLORS.get(d.status, _MUTED)
        self.title.setText(
            f'<span style="font-size:16pt; font-weight:600; color:{_INK};">'
            f"{escape(d.name)}</span>&nbsp;&nbsp;{badge(d.priority)}&nbsp;&nbsp;"
            f'<span style="color:{status_color}; font-weight:600;">'
            f"{escape(label(d.status))}</span>")
        who = " · ".join(x for x in (d.title, d.company) if x)
        self.subtitle.setText(who or "—")
        self.action.setText(f"Next: {next_action(data)}")
        issues = issue_texts(d)
        self.flags.setText("⚠  " + "   ·   ".join(issues) if issues else "")
        self.flags.setVisible(bool(issues))
        self.tick(now)
        self.show()

    def tick(self, now: datetime) -> None:
        """Move the live parts (countdown, their local time) to ``now``."""
        data = self.data
        if data is None:
            return
        d, row = data.detail, data.row
        z = zone(d.timezone)
        local = (f"{now.astimezone(z).strftime('%H:%M')} their time" if z
                 else "their local time unknown")
        due_text, state = "", "normal"
        if d.status in ("new", "working"):
            sla = row.sla_due_at if row is not None else None
            if d.first_action_at is None and sla is not None:
                due_text = f"First response {format_countdown(sla, now)}"
                left = (sla - now).total_seconds()
                state = "late" if left < 0 else "soon" if left < 300 else "normal"
            elif d.next_step_at is not None:
                due_text = f"Due {format_countdown(d.next_step_at, now)}"
                state = "late" if d.next_step_at < now else "normal"
        text = "   ·   ".join(x for x in (due_text, local) if x)
        if self.countdown.text() != text:
            self.countdown.setText(text)
        if self._countdown_state != state:
            # The label's own style sheet, not a [state=…] rule in style.qss:
            # re-polishing for a dynamic property goes through style(), and
            # wrapping the QStyle makes PySide build its ~25 enum classes, 5 ms
            # of the cold start (issue 3).
            self._countdown_state = state
            self.countdown.setStyleSheet(_COUNTDOWN_STYLES[state])


class PreviewPane(QtWidgets.QWidget):
    """The open lead: :class:`LeadHeader` over a details browser."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview_pane")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.header = LeadHeader(self)
        self.browser = QtWidgets.QTextBrowser(self)
        self.browser.setObjectName("preview")
        self.browser.setOpenExternalLinks(False)
        layout.addWidget(self.header)
        layout.addWidget(self.browser, 1)
        self.data: PreviewData | None = None
        self.show_empty()

    def show_empty(self, message: str = "Select a lead to see it here.") -> None:
        self.data = None
        self.header.clear()
        self.browser.setHtml(f'<p style="color:#8a8f98; margin-top:60px;" align="center">'
                             f"{escape(message)}</p>")

    def show_lead(self, data: PreviewData, now: datetime) -> None:
        keep = self.browser.verticalScrollBar().value() if (
            self.data is not None and self.data.detail.id == data.detail.id) else 0
        self.data = data
        self.header.show_lead(data, now)
        self.browser.setHtml(render_html(data, now))
        self.browser.verticalScrollBar().setValue(keep)

    def tick(self, now: datetime) -> None:
        self.header.tick(now)

    def toPlainText(self) -> str:
        parts = [self.header.title.text(), self.header.subtitle.text(),
                 self.header.action.text(), self.header.countdown.text(),
                 self.header.flags.text()] if self.data is not None else []
        from ui.qt import QtGui

        doc = QtGui.QTextDocument()
        doc.setHtml("<br>".join(parts))
        return doc.toPlainText() + "\n" + self.browser.toPlainText()
