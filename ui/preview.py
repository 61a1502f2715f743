"""The read-only preview of the selected lead.

Renders a :class:`PreviewData` (all plain values fetched off the GUI thread)
as rich text: who and where, why the lead is next, the next step, the cadence
step and its template with merge fields filled, the score breakdown, data
flags and the activity timeline, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from leadqueue.views import LeadDetail, QueueRow
from ui.qt import QtWidgets
from ui.queue_model import PRIORITY_COLORS, format_countdown, zone

#: Shown when the team has not set its own window (DOMAIN: 08:00–20:00 their time).
DEFAULT_CALLING_WINDOW = ("08:00", "20:00")

_OUTCOME_LABELS = {
    "no_answer": "No answer", "wrong_number": "Wrong number", "bad_number": "Bad number",
    "meeting_booked": "Meeting booked", "not_interested": "Not interested",
}
_CLASS_LABELS = {
    "high_intent": "High intent", "qualification_needed": "Qualification needed",
    "early_stage": "Good fit, early stage", "poor_fit": "Poor fit",
    "existing_account": "Existing account",
}


@dataclass(frozen=True)
class PreviewData:
    detail: LeadDetail
    row: QueueRow | None = None
    cadence_step: str | None = None
    template: Any | None = None  # leadqueue's RenderedTemplate (subject, body)


def label(value: str | None) -> str:
    if not value:
        return "—"
    return _OUTCOME_LABELS.get(value) or _CLASS_LABELS.get(value) or value.replace("_", " ").capitalize()


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


def _section(title: str) -> str:
    return (f'<p style="margin-top:14px; margin-bottom:4px; color:#5f6672; font-size:small;'
            f' font-weight:600; letter-spacing:1px;">{escape(title.upper())}</p>')


def _kv(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td style="color:#5f6672; padding-right:14px;">{escape(k)}</td>'
        f"<td>{v}</td></tr>"
        for k, v in rows
    )
    return f'<table cellspacing="0" cellpadding="2">{cells}</table>'


def render_html(data: PreviewData, now: datetime) -> str:
    d, row = data.detail, data.row
    out: list[str] = []
    status = label(d.status)
    out.append(
        f'<p style="margin:0;"><span style="font-size:x-large; font-weight:600;">'
        f"{escape(d.name)}</span>&nbsp;&nbsp;{badge(d.priority)}</p>"
    )
    who = ", ".join(escape(x) for x in (d.title, d.company) if x)
    out.append(f'<p style="margin-top:2px; color:#3c4250;">{who or "—"}</p>')
    out.append(
        f'<p style="color:#5f6672;">{escape(label(d.lead_class))} · {escape(status)} · '
        f"source {escape(d.source or '—')} · owner {escape(d.owner_name or 'pool')}</p>"
    )
    if d.data_issues or d.do_not_contact:
        flags = [label(i) for i in d.data_issues]
        if d.do_not_contact:
            flags.insert(0, "Do not contact")
        out.append(
            '<p style="background-color:#fff4e5; color:#8a4b00; padding:4px;">⚠ '
            + escape("; ".join(flags)) + "</p>"
        )

    reasons = row.reasons if row is not None else ()
    if reasons:
        out.append(_section("Why next"))
        out.append("<ul style='margin-top:0;'>" + "".join(
            f"<li>{escape(r)}</li>" for r in reasons) + "</ul>")

    z = zone(d.timezone)
    local = now.astimezone(z).strftime("%a %H:%M") if z else "unknown time zone"
    start, end = DEFAULT_CALLING_WINDOW
    window = f"{start}–{end} their time"
    opens = getattr(row, "window_opens_at", None) if row is not None else None
    if opens is not None:
        window += f" · closed, opens {format_countdown(opens, now)}"
    phone = escape(d.phone or "—")
    email = escape(d.email or "—")
    out.append(_section("Contact"))
    out.append(_kv([
        ("Phone", phone), ("Email", email),
        ("Local time", f"{escape(local)} ({escape(d.timezone or '?')})"),
        ("Calling window", escape(window)),
        ("Location", escape(", ".join(x for x in (d.state, d.country) if x) or "—")),
        ("Company size", escape(str(d.company_size)) if d.company_size else "—"),
        ("Interest", escape(d.product_interest or "—")),
    ]))

    out.append(_section("Next step"))
    if d.next_step or d.next_step_at:
        kind = f"{label(d.next_step_kind)}: " if d.next_step_kind else ""
        due = ""
        if d.next_step_at is not None:
            due = (f" — {escape(_when(d.next_step_at))} "
                   f"({escape(format_countdown(d.next_step_at, now))})")
        out.append(f"<p>{escape(kind)}{escape(d.next_step or '')}{due}</p>")
    else:
        out.append('<p style="color:#c62828;">No next step set</p>')
    if data.cadence_step:
        out.append(f'<p style="color:#3c4250;">Cadence: {escape(data.cadence_step)}</p>')

    tpl = data.template
    if tpl is not None:
        out.append(_section("Template"))
        subject = getattr(tpl, "subject", None)
        body = getattr(tpl, "body", "") or ""
        if subject:
            out.append(f"<p><b>{escape(subject)}</b></p>")
        out.append('<p style="color:#2b303a; white-space:pre-wrap;">'
                   + escape(body).replace("\n", "<br>") + "</p>")

    out.append(_section(f"Score {d.score}"))
    if d.score_breakdown:
        out.append(_kv([(rule, f"{pts:+d}") for rule, pts in d.score_breakdown]))
    out.append(_kv([("Attempts", str(d.attempts)),
                    ("Created", escape(_when(d.created_at))),
                    ("First action", escape(_when(d.first_action_at))),
                    ("Last action", escape(_when(d.last_action_at)))]))

    out.append(_section(f"Timeline ({len(d.activities)})"))
    if not d.activities:
        out.append('<p style="color:#5f6672;">No activity yet</p>')
    superseded = {a.supersedes_id for a in d.activities if a.supersedes_id}
    for a in d.activities:
        what = label(a.kind)
        if a.direction == "inbound":
            what = f"Inbound {a.kind}"
        if a.outcome:
            what += f" — {label(a.outcome)}"
        if a.duration_s:
            what += f" ({a.duration_s // 60}:{a.duration_s % 60:02d})"
        style = "text-decoration: line-through; color:#8a8f98;" if a.id in superseded else ""
        meta = f"{_when(a.at)} · {a.author_name or 'system'}"
        body = f"<br><span style='color:#3c4250;'>{escape(a.body)}</span>" if a.body else ""
        if a.supersedes_id:
            body += "<br><span style='color:#5f6672;'>(corrects an earlier entry)</span>"
        out.append(
            f'<p style="margin-bottom:6px; {style}"><b>{escape(what)}</b>'
            f'&nbsp;&nbsp;<span style="color:#5f6672;">{escape(meta)}</span>{body}</p>'
        )
    return "\n".join(out)


class PreviewPane(QtWidgets.QTextBrowser):
    """Shows one lead; empty text while nothing is selected."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setOpenExternalLinks(False)
        self.data: PreviewData | None = None
        self.show_empty()

    def show_empty(self, message: str = "Select a lead to see it here.") -> None:
        self.data = None
        self.setHtml(f'<p style="color:#8a8f98; margin-top:40px;" align="center">'
                     f"{escape(message)}</p>")

    def show_lead(self, data: PreviewData, now: datetime) -> None:
        self.data = data
        self.setHtml(render_html(data, now))
