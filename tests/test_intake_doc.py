"""docs/intake-and-routing.md stays true to the code it describes."""

from __future__ import annotations

from pathlib import Path

from leadqueue.rules.classify import INQUIRIES
from leadqueue.rules.routing import _MATCH_KEYS
from leadqueue.shared.intake import FIELDS, MAX_MESSAGE

DOC = (Path(__file__).resolve().parent.parent / "docs" / "intake-and-routing.md").read_text()


def test_every_intake_field_inquiry_and_match_key_is_documented() -> None:
    for name in FIELDS:
        assert f"`{name}`" in DOC, name
    for inquiry in INQUIRIES:
        assert f"`{inquiry}`" in DOC, inquiry
    for key in _MATCH_KEYS:
        assert f'"{key}"' in DOC, key
    assert f"{MAX_MESSAGE:,}" in DOC
