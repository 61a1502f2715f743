"""Every action of the rep's main window, with its keys, in one table.

The window builds one ``QAction`` per :class:`ActionSpec` (menu entry, action
bar button and shortcut at once) and the shortcuts help (F1 or ``?``) is
generated from the same table, so a key and its documentation cannot drift
apart. Single-letter keys are deliberate: a rep works a lead a hundred times
a day. They do not fire while a text field has the focus (the field takes
printable keys), so typing in the search box never triggers an action.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadqueue.enums import CallOutcome

_KNOWN_OUTCOMES = {
    CallOutcome.CONNECTED.value: "Connected",
    CallOutcome.VOICEMAIL.value: "Voicemail",
    CallOutcome.NO_ANSWER.value: "No answer",
    CallOutcome.BUSY.value: "Busy",
    CallOutcome.WRONG_NUMBER.value: "Wrong number",
    CallOutcome.BAD_NUMBER.value: "Bad number",
    CallOutcome.MEETING_BOOKED.value: "Meeting booked",
    CallOutcome.NOT_INTERESTED.value: "Not interested",
}
#: Every call outcome the core knows, in its order, with its label; the first
#: nine get the number keys 1–9.
OUTCOME_LABELS: dict[str, str] = {
    o.value: _KNOWN_OUTCOMES.get(o.value, o.value.replace("_", " ").capitalize())
    for o in CallOutcome
}


@dataclass(frozen=True)
class ActionSpec:
    name: str                  # the window's handler is ``act_<name>``
    text: str                  # menu and button text
    keys: tuple[str, ...]      # QKeySequence strings, first one shown in menus
    menu: str                  # key of ``MainWindow.menus``
    help: str = ""             # the shortcuts help's description (default: text)
    needs_lead: bool = True    # disabled while no lead is open


def outcome_action_name(outcome: str) -> str:
    return f"outcome_{outcome}"


ACTIONS: tuple[ActionSpec, ...] = (
    # Working the queue
    ActionSpec("next_lead", "Next lead", ("J",), "queue",
               "Open the next best lead (the top of 'Call now')",
               needs_lead=False),
    ActionSpec("previous_lead", "Previous lead", ("K",), "queue",
               "Open the lead above", needs_lead=False),
    ActionSpec("search", "Search…", ("Ctrl+F", "/"), "queue",
               "Search name, company, phone or email", needs_lead=False),
    ActionSpec("toggle_mode", "Progressive dialing", ("M",), "queue",
               "Switch between preview and progressive dialing", needs_lead=False),
    ActionSpec("cancel", "Cancel countdown", ("Esc",), "queue",
               "Cancel the progressive-dial countdown / leave the search box",
               needs_lead=False),
    ActionSpec("refresh", "Refresh queue", ("F5",), "queue", needs_lead=False),
    # Issue 5: the team's shared pool (online only) and the supervisor's board
    ActionSpec("take_from_pool", "Take next from pool", ("P",), "queue",
               "Claim the best unclaimed lead of your team's pool and open it "
               "(shared database)", needs_lead=False),
    ActionSpec("return_to_pool", "Return to pool", ("Shift+P",), "queue",
               "Give the open lead you claimed back to your team's pool"),
    ActionSpec("team_board", "Team board", ("Ctrl+B",), "view",
               "Show or hide the team board: reps, SLA breaches, who holds what, reassign "
               "(team leads and admins)", needs_lead=False),
    # The open lead
    ActionSpec("call", "Call", ("C",), "lead", "Call the lead (tel: link) and start the timer"),
    ActionSpec("hang_up", "Hang up", ("H",), "lead", "End the call and log its outcome"),
    ActionSpec("email", "Email", ("E",), "lead",
               "Open an email with this step's template (also copied to the clipboard)"),
    ActionSpec("log_outcome", "Log outcome…", ("L",), "lead", "Log a call outcome"),
    *(ActionSpec(outcome_action_name(o), label, (str(n),) if n <= 9 else (), "outcome",
                 f"Log outcome: {label}")
      for n, (o, label) in enumerate(OUTCOME_LABELS.items(), start=1)),
    ActionSpec("note", "Note…", ("N",), "lead", "Add a note"),
    ActionSpec("snooze", "Snooze…", ("S",), "lead", "Hide the lead until a time"),
    ActionSpec("next_step", "Next step…", ("D",), "lead",
               "Set the next step and its date (or close the lead with a status)"),
    ActionSpec("disqualify", "Disqualify…", ("X",), "lead",
               "Disqualify with a standard reason"),
    ActionSpec("inbound", "Log inbound…", ("I",), "lead", "Log a reply or an inbound call"),
    ActionSpec("correct", "Correct an entry…", ("Ctrl+Z",), "lead",
               "Correct a mis-logged entry (a new entry supersedes it)"),
    ActionSpec("edit_contact", "Edit contact…", ("F2",), "lead", "Edit the contact fields"),
    ActionSpec("new_lead", "New lead…", ("Ctrl+N",), "file", "Enter a lead by hand",
               needs_lead=False),
    # Help and the window
    ActionSpec("shortcuts", "Keyboard shortcuts", ("F1", "?"), "help", needs_lead=False),
    ActionSpec("quit", "Quit", ("Ctrl+Q",), "file", needs_lead=False),
)

SPECS: dict[str, ActionSpec] = {spec.name: spec for spec in ACTIONS}


def shortcut_rows() -> list[tuple[str, str]]:
    """(what it does, keys) for the shortcuts help, in table order."""
    rows = [("Move in the queue", "↑ / ↓"), ("Search: jump to the results", "Enter")]
    for spec in ACTIONS:
        keys = " or ".join("Esc" if k == "Esc" else k for k in spec.keys)
        rows.append((spec.help or spec.text, keys))
    return rows
