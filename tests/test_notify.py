"""The notification port without Qt: quiet hours, batching, the plyer probe on a
fake environment, and adapters that fail without taking the app down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadqueue.notify import (
    BREAKTHROUGH_NONE,
    BREAKTHROUGH_URGENT,
    NORMAL,
    QUIET,
    URGENT,
    BusError,
    Note,
    NotifierChain,
    PlyerNotifier,
    ProbeEnv,
    ProbeResult,
    QuietHours,
    apply_quiet_hours,
    batch_notes,
    note_from_event,
    probe_plyer,
)

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def note(name: str = "Ada Lovelace", *, level: str = NORMAL, priority: int | None = 2,
         at: datetime = T0, reason: str = "first response due") -> Note:
    lead = uuid.uuid5(uuid.NAMESPACE_DNS, name)
    return Note(title="SLA deadline", lead_id=lead, lead_name=name, reason=reason,
                level=level, priority=priority, at=at, lead_ids=(lead,))


# -- quiet hours ------------------------------------------------------------------


def test_quiet_hours_across_midnight_in_the_reps_zone() -> None:
    hours = QuietHours.parse("22:00", "07:00", "America/New_York")
    assert hours is not None
    # 15:00 UTC is 10:00 in New York: not quiet.
    assert not hours.active(T0)
    # 03:30 UTC is 22:30 the evening before in New York: quiet.
    assert hours.active(datetime(2026, 3, 5, 3, 30, tzinfo=UTC))
    # 11:59 UTC = 06:59 NY (still quiet), 12:00 UTC = 07:00 NY (the end is exclusive).
    assert hours.active(datetime(2026, 3, 5, 11, 59, tzinfo=UTC))
    assert not hours.active(datetime(2026, 3, 5, 12, 0, tzinfo=UTC))


def test_quiet_hours_same_day_window_and_none() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0), NY)
    assert lunch.active(datetime(2026, 3, 4, 17, 30, tzinfo=UTC))  # 12:30 NY
    assert not lunch.active(datetime(2026, 3, 4, 18, 0, tzinfo=UTC))  # 13:00 NY
    assert not QuietHours(time(9, 0), time(9, 0)).active(T0)  # start == end: none
    assert QuietHours.parse(None, "07:00") is None
    assert QuietHours.parse("22:00", "") is None


def test_quiet_hours_reject_bad_times() -> None:
    with pytest.raises(ValueError, match="quiet hours start"):
        QuietHours.parse("25:00", "07:00")


def test_quiet_hours_lower_normal_notes_but_let_urgent_p1_through() -> None:
    hours = QuietHours(time(0, 0), time(23, 59), ZoneInfo("UTC"))
    normal = note("Tom Hughes")
    urgent_p1 = note("Ada Lovelace", level=URGENT, priority=1)
    urgent_p2 = note("Sam Odd", level=URGENT, priority=2)
    shown = apply_quiet_hours([normal, urgent_p1, urgent_p2], hours, T0)
    assert [n.level for n in shown] == [QUIET, URGENT, QUIET]
    # Outside quiet hours nothing changes.
    assert apply_quiet_hours([normal], QuietHours(time(1, 0), time(2, 0)), T0) == [normal]
    assert apply_quiet_hours([normal], None, T0) == [normal]


def test_quiet_hours_breakthrough_is_configurable() -> None:
    urgent_p2 = note("Sam Odd", level=URGENT, priority=2)
    urgent_p1 = note("Ada Lovelace", level=URGENT, priority=1)
    any_urgent = QuietHours(time(0, 0), time(23, 59), breakthrough=BREAKTHROUGH_URGENT)
    nothing = QuietHours(time(0, 0), time(23, 59), breakthrough=BREAKTHROUGH_NONE)
    assert apply_quiet_hours([urgent_p2], any_urgent, T0)[0].level == URGENT
    assert apply_quiet_hours([urgent_p1], nothing, T0)[0].level == QUIET


# -- batching ------------------------------------------------------------------------


def test_three_events_within_seconds_become_one_note() -> None:
    a = note("Ada Lovelace", level=URGENT, priority=1, at=T0 + timedelta(seconds=2))
    b = note("Tom Hughes", at=T0)
    c = note("Sam Odd", at=T0 + timedelta(seconds=4), reason="call step due")
    out = batch_notes([a, b, c])
    assert len(out) == 1
    merged = out[0]
    assert merged.title == "3 leads need you"
    assert merged.kind == "batch"
    # The most urgent lead is the one a click opens, and it is named first.
    assert merged.lead_id == a.lead_id and merged.level == URGENT and merged.priority == 1
    assert merged.body.startswith("Ada Lovelace: first response due")
    assert "Tom Hughes" in merged.body and "Sam Odd: call step due" in merged.body
    assert set(merged.lead_ids) == {a.lead_id, b.lead_id, c.lead_id}
    assert merged.at == T0


def test_events_further_apart_stay_separate() -> None:
    a = note("Ada Lovelace", at=T0)
    b = note("Tom Hughes", at=T0 + timedelta(seconds=30))
    out = batch_notes([b, a])
    assert [n.lead_name for n in out] == ["Ada Lovelace", "Tom Hughes"]
    assert all(n.kind != "batch" for n in out)


def test_batch_counts_leads_not_events_and_caps_names() -> None:
    same = [note("Ada Lovelace", reason="SLA deadline"),
            note("Ada Lovelace", reason="ladder stage 1", at=T0 + timedelta(seconds=1))]
    merged = batch_notes(same)[0]
    assert merged.title == "SLA deadline" and merged.count == 1
    assert merged.reason == "SLA deadline; ladder stage 1"
    many = [note(f"Lead {i}", at=T0 + timedelta(seconds=i * 0.5)) for i in range(6)]
    big = batch_notes(many)[0]
    assert big.title == "6 leads need you"
    assert big.body.endswith("and 3 more")


def test_quiet_notes_are_not_merged_into_loud_ones() -> None:
    loud = note("Ada Lovelace", at=T0)
    quiet = note("Tom Hughes", level=QUIET, at=T0 + timedelta(seconds=1))
    out = batch_notes([loud, quiet])
    assert [(n.lead_name, n.level) for n in out] == [("Ada Lovelace", NORMAL),
                                                     ("Tom Hughes", QUIET)]


def test_note_from_a_due_event() -> None:
    class Event:
        at = T0
        lead_id = uuid.uuid4()
        lead_name = "Ada Lovelace"
        kind = "sla_deadline"
        level = "urgent"
        title = "P1 first response due"
        body = "New P1 lead from the website, 5 min SLA"

    n = note_from_event(Event(), priority=1)
    assert (n.title, n.lead_name, n.level, n.priority, n.kind) == (
        "P1 first response due", "Ada Lovelace", URGENT, 1, "sla_deadline")
    assert n.body == "Ada Lovelace — New P1 lead from the website, 5 min SLA"
    # A title that already names the lead is not repeated in the body.
    named = Note(title="First response due: P1 Ada Lovelace", lead_id=n.lead_id,
                 lead_name="Ada Lovelace", reason="5 min SLA reached")
    assert named.body == "5 min SLA reached"


# -- the probe ------------------------------------------------------------------------------


def fake_env(*, environ: dict[str, str] | None = None, tools: tuple[str, ...] = ("notify-send",),
             modules: tuple[str, ...] = ("jeepney",), owned: bool | Exception = True,
             platform: str = "linux", flatpak: bool = False) -> tuple[ProbeEnv, list[str]]:
    asked: list[str] = []

    def name_has_owner(address: str, name: str, timeout: float) -> bool:
        asked.append(f"{address} {name}")
        if isinstance(owned, Exception):
            raise owned
        return owned

    env = ProbeEnv(
        platform=platform,
        environ={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/fake-bus"} if environ is None
        else environ,
        which=lambda tool: f"/usr/bin/{tool}" if tool in tools else None,
        has_module=lambda mod: mod in modules,
        name_has_owner=name_has_owner,
        in_flatpak=flatpak,
    )
    return env, asked


def test_probe_ok_with_bus_daemon_and_notify_send() -> None:
    env, asked = fake_env()
    result = probe_plyer(env)
    assert result.ok and result.route == "notify-send"
    assert asked == ["unix:path=/tmp/fake-bus org.freedesktop.Notifications"]


def test_probe_prefers_python_dbus_when_it_imports() -> None:
    env, _ = fake_env(tools=(), modules=("jeepney", "dbus"))
    assert probe_plyer(env) == ProbeResult(True, "dbus-python", probe_plyer(env).reason)


def test_probe_without_session_bus_does_not_touch_the_bus() -> None:
    env, asked = fake_env(environ={})
    result = probe_plyer(env)
    assert not result.ok and "DBUS_SESSION_BUS_ADDRESS" in result.reason
    assert asked == []


def test_probe_bus_that_does_not_answer() -> None:
    env, _ = fake_env(owned=BusError("the session bus did not answer within 1 s"))
    result = probe_plyer(env)
    assert not result.ok and "did not answer" in result.reason


def test_probe_bus_check_that_breaks_is_a_no_not_a_crash() -> None:
    env, _ = fake_env(owned=RuntimeError("boom"))
    result = probe_plyer(env)
    assert not result.ok and "boom" in result.reason


def test_probe_no_notification_daemon() -> None:
    env, _ = fake_env(owned=False)
    result = probe_plyer(env)
    assert not result.ok and "no notification daemon" in result.reason


def test_probe_neither_notify_send_nor_python_dbus() -> None:
    env, asked = fake_env(tools=())
    result = probe_plyer(env)
    assert not result.ok and "notify-send" in result.reason
    assert asked == []


def test_probe_flatpak_needs_gdbus_and_other_platforms() -> None:
    assert not probe_plyer(fake_env(flatpak=True)[0]).ok
    assert probe_plyer(fake_env(flatpak=True, tools=("gdbus",))[0]).route == "portal"
    assert probe_plyer(fake_env(platform="win32", environ={})[0]).ok
    assert not probe_plyer(fake_env(platform="darwin")[0]).ok
    assert probe_plyer(fake_env(platform="darwin", modules=("pyobjus",))[0]).ok


def test_probe_on_a_real_bus_address_that_does_not_exist(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The real jeepney check against a socket nobody listens on: a clear "no".
    pytest.importorskip("jeepney")
    env = ProbeEnv(platform="linux",
                   environ={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"},
                   which=lambda tool: "/usr/bin/notify-send", in_flatpak=False)
    result = probe_plyer(env, timeout=0.5)
    assert not result.ok and "did not answer" in result.reason


# -- adapters and the chain ---------------------------------------------------------------


class Recorder:
    def __init__(self, name: str, result: bool | Exception = True) -> None:
        self.name = name
        self.result = result
        self.seen: list[Note] = []

    def notify(self, n: Note) -> bool:
        self.seen.append(n)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_chain_swaps_a_failing_adapter_for_the_next_and_never_raises() -> None:
    broken = Recorder("plyer", OSError("no bus"))
    refusing = Recorder("tray", False)
    banner = Recorder("banner")
    chain = NotifierChain([broken, refusing, banner])
    assert chain.notify(note()) == "banner"
    assert chain.names == ("banner",)
    assert [name for name, _ in chain.dropped] == ["plyer", "tray"]
    # The dropped adapters are not asked again.
    assert chain.notify(note("Tom Hughes")) == "banner"
    assert len(broken.seen) == 1 and len(refusing.seen) == 1 and len(banner.seen) == 2


def test_empty_chain_delivers_nothing_quietly() -> None:
    assert NotifierChain().notify(note()) is None


class FakeBackend:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[dict[str, object]] = []

    def notify(self, **kwargs: object) -> None:
        self.calls.append(kwargs)
        if self.fail:
            raise OSError("notify-send exited 1")


def test_plyer_adapter_delivers_on_its_thread() -> None:
    backend = FakeBackend()
    adapter = PlyerNotifier(ProbeResult(True, "notify-send", "ok"), backend=backend)
    try:
        assert adapter.notify(note("Ada Lovelace", level=URGENT, priority=1))
        assert adapter.flush(5)
    finally:
        adapter.close()
    (call,) = backend.calls
    assert call["title"] == "SLA deadline"
    assert "Ada Lovelace" in str(call["message"])
    assert call["app_name"] == "LeadQueue"
    assert call["hints"] == {"urgency": 2}


def test_plyer_adapter_refuses_when_the_probe_said_no() -> None:
    backend = FakeBackend()
    adapter = PlyerNotifier(ProbeResult(False, "none", "no D-Bus session"), backend=backend)
    assert not adapter.notify(note())
    assert adapter.broken == "no D-Bus session"
    assert backend.calls == []


def test_plyer_failure_reports_the_note_and_breaks_the_adapter() -> None:
    failed: list[tuple[Note, BaseException]] = []
    adapter = PlyerNotifier(ProbeResult(True, "notify-send", "ok"), backend=FakeBackend(True),
                            on_failure=lambda n, exc: failed.append((n, exc)))
    try:
        first = note()
        assert adapter.notify(first)  # accepted; the failure shows up on the thread
        assert adapter.flush(5)
    finally:
        adapter.close()
    assert failed and failed[0][0] == first and "exited 1" in str(failed[0][1])
    assert adapter.broken is not None and not adapter.notify(note())
    # In a chain the broken adapter is dropped and the next one takes over.
    banner = Recorder("banner")
    chain = NotifierChain([adapter, banner])
    assert chain.notify(note()) == "banner"


def test_real_plyer_backend_loads_without_leaking_warnings() -> None:
    # Warnings are errors in this suite: resolving plyer's backend (which warns
    # about python-dbus where it is missing) must stay silent.
    from leadqueue.notify import load_plyer_backend

    backend = load_plyer_backend()
    assert hasattr(backend, "notify")
