"""The desktop app's first paint, read from a local store without the ORM.

Cold start must stay within 2.5x of a bare PySide6 window (issue 3), and
importing SQLAlchemy's ORM with the models alone takes longer than that whole
budget. So the app's first screen — who is signed in, their ranked queue and
the top lead — is read here through the ``sqlite3`` driver, read-only, while
the real :class:`~leadqueue.workspace.Workspace` opens in the background and
takes over for everything after (every write, every later read).

Nothing here decides anything: the ranking is :func:`leadqueue.queue.fetch_ranking`
(whose SQLite path already reads through the driver) and the rows, with their
reasons, are built by :func:`leadqueue.queue.queue_views`, as for the
workspace. What this module repeats is the *reading* of
display fields that ``queue.ranked_queue``, ``Workspace.lead``,
``Workspace.cadence_step_label`` and ``Workspace.render_template`` do through
SQLAlchemy; ``tests/test_firstpaint.py`` proves on real stores that every
value read here equals the workspace's, so the two cannot drift unnoticed.

Only a store at this code's schema revision and a signed-in *rep* get a first
paint (a team lead's view and a store that needs migrating take the normal
path); :func:`read_first_paint` returns None then.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .enums import Role
from .views import ActivityView, LeadDetail, PersonView, RankedQueue

_ROLE_ORDER = {Role.REP.value: 0, Role.TEAM_LEAD.value: 1, Role.ADMIN.value: 2}


@dataclass(frozen=True)
class FirstPaintData:
    me: PersonView
    people: tuple[PersonView, ...]
    queue: RankedQueue
    now: datetime
    #: The lead the window opens first (the top of the queue), with its extras.
    lead: LeadDetail | None = None
    cadence_step: str | None = None
    template: Any | None = None  # leadqueue.templates.RenderedTemplate


class _Connection:
    """Just enough of a SQLAlchemy ``Connection`` for ``queue.fetch_ranking``'s
    SQLite path, which reads through ``connection.driver_connection``."""

    class _Dialect:
        name = "sqlite"

    class _Pooled:
        def __init__(self, con: sqlite3.Connection) -> None:
            self.driver_connection = con

    def __init__(self, con: sqlite3.Connection) -> None:
        self.dialect = self._Dialect()
        self.connection = self._Pooled(con)


def _uuid(text: Any) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(hex=text)


def _time(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text + "+00:00")


def _json(text: Any) -> Any:
    return json.loads(text) if text else None


def _chunks(ids: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def read_people(con: sqlite3.Connection) -> list[PersonView]:
    """``workspace.list_people``: active users, reps first, by team and name."""
    rows = con.execute(
        "SELECT u.id, u.email, u.name, u.role, u.team_id, t.name FROM users u"
        " LEFT JOIN teams t ON t.id = u.team_id"
        " WHERE u.deleted_at IS NULL AND u.disabled = 0").fetchall()
    people = [PersonView(_uuid(i), email, name, role, _uuid(team), team_name)  # type: ignore[arg-type]
              for i, email, name, role, team, team_name in rows]
    return sorted(people, key=lambda p: (_ROLE_ORDER[p.role], p.team_name or "", p.name))


def choose_person(people: Sequence[PersonView], as_email: str | None) -> PersonView | None:
    """``Workspace.open``'s choice on a local store; None: nobody matches."""
    if not people:
        return None
    if as_email:
        wanted = as_email.strip().lower()
        return next((p for p in people if p.email.lower() == wanted), None)
    reps = [p for p in people if p.role == Role.REP.value]
    return (reps or list(people))[0]


def read_ranked_queue(con: sqlite3.Connection, me: PersonView, now: datetime) -> RankedQueue:
    """``queue.ranked_queue`` for ``me``: the same ranking and views, display fields read here."""
    from .queue import DISPLAY_COLUMNS, LeadDisplay, fetch_ranking, queue_views, ranked_ids

    ranking = fetch_ranking(_Connection(con), me.id, me.team_id, now)  # type: ignore[arg-type]
    chosen = ranked_ids(ranking)
    details: dict[uuid.UUID, LeadDisplay] = {}
    for ids in _chunks([i.hex for i in chosen]):
        marks = ",".join("?" * len(ids))
        for (lead_id, external_id, first, last, company, lead_class, source, phone, email,
             next_step, breakdown, issues) in con.execute(
                f"SELECT {', '.join(DISPLAY_COLUMNS)} FROM leads WHERE id IN ({marks})", ids):
            key = uuid.UUID(hex=lead_id)
            details[key] = LeadDisplay(key, external_id, first, last, company, lead_class,
                                       source, phone, email, next_step, _json(breakdown),
                                       _json(issues))
    return queue_views(ranking, details, read_cadence_labels(con, chosen), now)


def read_cadence_labels(con: sqlite3.Connection, lead_ids: Sequence[uuid.UUID]
                        ) -> dict[uuid.UUID, str]:
    """``queue.cadence_labels``: "Step 3 of 6 (call)" per lead in an active cadence."""
    from .queue import cadence_step_label

    labels: dict[uuid.UUID, str] = {}
    for ids in _chunks([i.hex for i in lead_ids]):
        marks = ",".join("?" * len(ids))
        rows = con.execute(
            "SELECT lead_id, cadence_id, current_step FROM cadence_enrollments"
            f" WHERE lead_id IN ({marks}) AND status = 'active' AND deleted_at IS NULL",
            ids).fetchall()
        if not rows:
            continue
        cadences = sorted({cid for _l, cid, _s in rows})
        marks = ",".join("?" * len(cadences))
        steps: dict[str, dict[int, str]] = {}
        for cid, position, channel in con.execute(
                "SELECT cadence_id, position, channel FROM cadence_steps"
                f" WHERE cadence_id IN ({marks}) AND deleted_at IS NULL", cadences):
            steps.setdefault(cid, {})[position] = channel
        for lead_id, cid, current in rows:
            label = cadence_step_label(steps.get(cid, {}), current)
            if label is not None:
                labels[uuid.UUID(hex=lead_id)] = label
    return labels


_LEAD_COLUMNS = (
    "id, external_id, first_name, last_name, company, title, email, phone, phone_display,"
    " source, lead_class, status, priority, owner_id, team_id, created_at, assigned_at,"
    " acknowledged_at, first_action_at, last_action_at, next_step, next_step_kind,"
    " next_step_at, snoozed_until, do_not_contact, attempts, score, score_breakdown,"
    " timezone, country, state, territory, company_size, product_interest,"
    " no_response_reason, disqualify_reason, final_outcome, data_issues, deleted_at")


def read_lead(con: sqlite3.Connection, lead_id: uuid.UUID,
              viewer_team_id: uuid.UUID | None = None) -> LeadDetail | None:
    """``Workspace.lead`` for a viewer of ``viewer_team_id``: the lead with its
    history, newest first (None: gone)."""
    row = con.execute(f"SELECT {_LEAD_COLUMNS} FROM leads WHERE id = ?",
                      (lead_id.hex,)).fetchone()
    if row is None or row[-1] is not None:
        return None
    (_i, external_id, first, last, company, title, email, phone, phone_display, source,
     lead_class, status, priority, owner_id, team_id, created_at, assigned_at, acknowledged_at,
     first_action_at, last_action_at, next_step, next_step_kind, next_step_at, snoozed_until,
     dnc, attempts, score, breakdown, zone, country, state, territory, size, interest,
     no_response, disqualify, final_outcome, issues, _deleted) = row
    owner = con.execute("SELECT name FROM users WHERE id = ?", (owner_id,)).fetchone() \
        if owner_id else None
    team = con.execute("SELECT name FROM teams WHERE id = ?", (team_id,)).fetchone() \
        if team_id else None
    window = read_calling_window(con, _uuid(team_id), viewer_team_id)
    activities = tuple(
        ActivityView(id=uuid.UUID(hex=aid), kind=kind, direction=direction, outcome=outcome,
                     at=_time(at), author_name=author,  # type: ignore[arg-type]
                     duration_s=duration, body=body, supersedes_id=_uuid(supersedes))
        for aid, kind, direction, outcome, at, author, duration, body, supersedes
        in con.execute(
            "SELECT a.id, a.kind, a.direction, a.outcome, a.at, u.name, a.duration_s,"
            " a.body, a.supersedes_id FROM activities a"
            " LEFT JOIN users u ON u.id = a.author_id"
            " WHERE a.lead_id = ? ORDER BY a.at DESC, a.id DESC", (lead_id.hex,)))
    return LeadDetail(
        id=lead_id, external_id=external_id, first_name=first, last_name=last,
        company=company, title=title, email=email, phone=phone, source=source,
        lead_class=lead_class, status=status, priority=priority,
        owner_name=owner[0] if owner else None, team_name=team[0] if team else None,
        created_at=_time(created_at), assigned_at=_time(assigned_at),  # type: ignore[arg-type]
        acknowledged_at=_time(acknowledged_at), first_action_at=_time(first_action_at),
        last_action_at=_time(last_action_at), next_step=next_step,
        next_step_kind=next_step_kind, next_step_at=_time(next_step_at),
        snoozed_until=_time(snoozed_until), do_not_contact=bool(dnc), attempts=attempts,
        score=score,
        score_breakdown=tuple((str(item.get("rule", "")), int(item.get("points", 0)))
                              for item in (_json(breakdown) or ())),
        timezone=zone, country=country, state=state, territory=territory,
        company_size=size, product_interest=interest, no_response_reason=no_response,
        disqualify_reason=disqualify, final_outcome=final_outcome,
        data_issues=tuple(_json(issues) or ()), calling_window=window,
        activities=activities, phone_display=phone_display,
    )


def read_calling_window(con: sqlite3.Connection,
                        *team_ids: uuid.UUID | None) -> tuple[str, str]:
    """``workspace.calling_window``: the first live team's window, else the default."""
    from .rules.calling_window import DEFAULT_WINDOW_END, DEFAULT_WINDOW_START

    for team_id in team_ids:
        row = con.execute(
            "SELECT calling_window_start, calling_window_end FROM teams"
            " WHERE id = ? AND deleted_at IS NULL", (team_id.hex,)).fetchone() \
            if team_id else None
        if row is not None:
            return row[0] or DEFAULT_WINDOW_START, row[1] or DEFAULT_WINDOW_END
    return DEFAULT_WINDOW_START, DEFAULT_WINDOW_END


def read_template(con: sqlite3.Connection, lead: LeadDetail, me: PersonView) -> Any:
    """``Workspace.render_template``: the current step's template, fields filled."""
    from .templates import default_template, merge_values, render

    values = merge_values(lead, me.name)
    enrolled = con.execute(
        "SELECT cadence_id, current_step FROM cadence_enrollments WHERE lead_id = ?"
        " AND status = 'active' AND deleted_at IS NULL LIMIT 1", (lead.id.hex,)).fetchone()
    if enrolled is not None:
        found = con.execute(
            "SELECT t.name, t.channel, t.subject, t.body FROM cadence_steps s"
            " JOIN templates t ON t.id = s.template_id AND t.deleted_at IS NULL"
            " WHERE s.cadence_id = ? AND s.position = ? AND s.deleted_at IS NULL LIMIT 1",
            enrolled).fetchone()
        if found is not None:
            name, channel, subject, body = found
            return render(name, channel, subject, body, values)
    return default_template(lead.next_step_kind, lead.first_action_at, values)


def read_first_paint(path: str | Path, as_email: str | None, now: datetime,
                     revision: str | None = None) -> FirstPaintData | None:
    """The first screen for ``as_email`` on the local store at ``path``, or None
    when this store or person needs the normal path (see the module docstring)."""
    from .store import SCHEMA_REVISION

    if revision != SCHEMA_REVISION or now.tzinfo is None:
        return None
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30)
    try:
        people = read_people(con)
        me = choose_person(people, as_email)
        if me is None or me.role != Role.REP.value:
            return None
        now = now.astimezone(UTC)
        queue = read_ranked_queue(con, me, now)
        top = next(iter(queue.callable or queue.later or queue.upcoming), None)
        lead = read_lead(con, top.id, me.team_id) if top is not None else None
        if lead is None:
            return FirstPaintData(me, tuple(people), queue, now)
        return FirstPaintData(me, tuple(people), queue, now, lead,
                              read_cadence_labels(con, [lead.id]).get(lead.id),
                              read_template(con, lead, me))
    except sqlite3.Error:
        return None  # locked, odd, half-written: the normal path will say what is wrong
    finally:
        con.close()
