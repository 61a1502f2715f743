"""Errors the facade raises for the user to read (no heavy imports: the UI
imports these at start-up through ``leadqueue.workspace``)."""

from __future__ import annotations


class ActionRefused(ValueError):
    """A rule refused the action; the message is shown to the rep as is."""


class LeadNotFound(ActionRefused, LookupError):
    """The lead does not exist (any more) in this store."""
