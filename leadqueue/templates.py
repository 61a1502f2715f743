"""Message templates: merge fields, their validation and their rendering.

A template's subject and body hold merge fields in braces, e.g.
``Hi {first_name}, thanks for asking about {product_interest}``. The set of
fields is closed (:data:`MERGE_FIELDS`) so a typo is caught when the template
is saved (:func:`validate_template`), not when a rep opens a lead. A literal
brace is written doubled: ``{{`` and ``}}``.

Rendering never loses text: a field the template names but the lead lacks
renders as an empty string, and an unknown field (only possible in a template
saved before validation existed) is left in place, braces and all, so the rep
sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .enums import Channel, NextStepKind

#: Every merge field a template may use, with what it stands for.
MERGE_FIELDS: dict[str, str] = {
    "first_name": "the lead's first name",
    "last_name": "the lead's last name",
    "company": "the lead's company",
    "product_interest": "the product the lead asked about",
    "source": "where the lead came from",
    "rep_name": "the name of the rep sending it",
}

# "{{" and "}}" are literal braces; "{name}" is a field; a lone brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class RenderedTemplate:
    """A template with the lead's merge fields filled in, ready to send or read."""

    name: str
    channel: str
    subject: str | None
    body: str
    #: Fields the template names that this code does not know (left as written).
    unknown_fields: tuple[str, ...] = ()


def template_fields(text: str) -> list[str]:
    """The merge field names used in ``text``, in order of first use."""
    seen: list[str] = []
    for match in _TOKEN.finditer(text or ""):
        name = match.group(1)
        if name is not None and name.strip() not in seen:
            seen.append(name.strip())
    return seen


def validate_template(text: str) -> list[str]:
    """Problems that make ``text`` unusable as a template; empty when it is fine.

    Each unknown field is reported by its name as written (e.g. ``"frist_name"``)
    so a save dialog can say "unknown field {frist_name}"; a lone brace is
    reported as ``"{"`` or ``"}"`` (write ``{{`` or ``}}`` for a literal one).
    """
    problems: list[str] = []
    for match in _TOKEN.finditer(text or ""):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            problem = token
        elif name.strip() not in MERGE_FIELDS:
            problem = name
        else:
            continue
        if problem not in problems:
            problems.append(problem)
    return problems


def describe_problems(problems: list[str]) -> str:
    """One human sentence for :func:`validate_template`'s result."""
    parts = []
    for problem in problems:
        if problem in ("{", "}"):
            parts.append(f"a lone '{problem}' (write '{problem * 2}' for a literal brace)")
        else:
            parts.append(f"unknown field {{{problem}}}")
    known = ", ".join(f"{{{name}}}" for name in MERGE_FIELDS)
    return f"{'; '.join(parts)}. Known fields: {known}"


def render_text(text: str, values: Mapping[str, str | None]) -> str:
    """``text`` with known fields replaced by ``values`` (None renders empty)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name is not None and name.strip() in MERGE_FIELDS:
            return values.get(name.strip()) or ""
        return token  # unknown field or lone brace: keep it visible

    return _TOKEN.sub(replace, text or "")


def render(name: str, channel: str, subject: str | None, body: str,
           values: Mapping[str, str | None]) -> RenderedTemplate:
    unknown = tuple(
        p for p in validate_template(f"{subject or ''}\n{body}") if p not in ("{", "}")
    )
    return RenderedTemplate(
        name=name,
        channel=channel,
        subject=render_text(subject, values) if subject is not None else None,
        body=render_text(body, values),
        unknown_fields=unknown,
    )


#: Used when no template in the database fits the lead's next step.
DEFAULT_TEMPLATES: dict[Channel, tuple[str, str | None, str]] = {
    Channel.EMAIL: (
        "Default email",
        "{product_interest} for {company}",
        "Hi {first_name},\n\nThanks for your interest in {product_interest}. "
        "I'd love to hear what {company} is looking for. Do you have 15 minutes "
        "this week?\n\nBest,\n{rep_name}",
    ),
    Channel.CALL: (
        "Default call script",
        None,
        "Hi {first_name}, this is {rep_name}. You asked about {product_interest} "
        "({source}); is now a good moment for two minutes on what {company} needs?",
    ),
    Channel.SMS: (
        "Default SMS",
        None,
        "Hi {first_name}, {rep_name} here about {product_interest}."
        " When suits you for a quick call?",
    ),
    Channel.SOCIAL: (
        "Default social touch",
        None,
        "Hi {first_name}, I saw {company} is looking at {product_interest}; happy to connect.",
    ),
}


#: The channel a next step of each kind goes out on.
CHANNEL_OF_NEXT_STEP: dict[str, Channel] = {
    NextStepKind.CALL: Channel.CALL, NextStepKind.CALLBACK: Channel.CALL,
    NextStepKind.EMAIL: Channel.EMAIL, NextStepKind.SMS: Channel.SMS,
    NextStepKind.SOCIAL: Channel.SOCIAL,
}


def merge_values(lead: Any, rep_name: str) -> dict[str, str | None]:
    """The merge fields of ``lead`` (anything with the lead's name, company,
    product interest and source) sent by ``rep_name``."""
    return {"first_name": lead.first_name, "last_name": lead.last_name,
            "company": lead.company, "product_interest": lead.product_interest,
            "source": lead.source.replace("_", " ") if lead.source else None,
            "rep_name": rep_name}


def default_template(next_step_kind: str | None, first_action_at: Any,
                     values: Mapping[str, str | None]) -> RenderedTemplate | None:
    """The built-in template for a lead no cadence template fits: its next
    step's channel's; a lead never worked gets the call script (phone first
    while intent is hot); otherwise None."""
    if next_step_kind is not None:
        channel = CHANNEL_OF_NEXT_STEP.get(next_step_kind)
    elif first_action_at is None:
        channel = Channel.CALL
    else:
        channel = None
    if channel is None:
        return None
    name, subject, body = DEFAULT_TEMPLATES[channel]
    return render(name, channel.value, subject, body, values)
