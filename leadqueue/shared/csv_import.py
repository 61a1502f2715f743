"""CSV import: a spreadsheet of leads, through the same intake path.

Columns map to intake fields (:data:`leadqueue.shared.intake.FIELDS`): a
header that already names a field (any case; spaces and dashes read as
underscores: "First Name" is ``first_name``) maps by itself; ``--map
"E-mail Address=email"`` maps another; ``--map "Notes="`` ignores a column.
A column that maps to nothing is an error before anything is written, so a
typo never silently drops data.

Every problem names the file line, the column as the file spells it and the
field: ``line 7, column 'Employees' (company_size): 'lots' is not a whole
number``. A bad row is rejected; the other rows go in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .intake import FIELDS, INT_FIELDS, IntakeSummary, ItemResult, intake_payloads

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: Cells up to this size are read, so an oversized one is rejected by the
#: intake checks with its column and field named; beyond it the csv module
#: refuses the row (rejected on its own, the rest of the file goes in).
MAX_CELL = 16 * 1024 * 1024


class CsvError(ValueError):
    """The file or the mapping cannot be used; nothing was written."""


def _as_field(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", " ").split())


def parse_mapping(pairs: Sequence[str]) -> dict[str, str | None]:
    """``["Col=field", "Other="]`` -> {"col": "field", "other": None} (keys lower-cased)."""
    out: dict[str, str | None] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CsvError(f"--map {pair!r}: expected COLUMN=FIELD (or COLUMN= to ignore it)")
        column, target = pair.split("=", 1)
        column, target = column.strip(), target.strip()
        if not column:
            raise CsvError(f"--map {pair!r}: the column name is empty")
        if target and target not in FIELDS:
            raise CsvError(f"--map {pair!r}: {target!r} is not a lead field (fields: "
                           f"{', '.join(FIELDS)})")
        out[column.lower()] = target or None
    return out


@dataclass
class CsvPlan:
    """How the file's columns map to fields."""

    headers: list[str]
    #: column index -> field
    columns: dict[int, str] = field(default_factory=dict)

    def column_of(self, field_name: str) -> str | None:
        for index, name in self.columns.items():
            if name == field_name:
                return self.headers[index]
        return None


def plan_columns(headers: Sequence[str], mapping: Mapping[str, str | None]) -> CsvPlan:
    plan = CsvPlan(list(headers))
    unknown: list[str] = []
    used: dict[str, str] = {}
    for index, header in enumerate(headers):
        key = header.strip().lower()
        if key in mapping:
            target = mapping[key]
        elif _as_field(header) in FIELDS:
            target = _as_field(header)
        elif not header.strip():
            raise CsvError(f"column {index + 1} has no header: name it, or leave it out")
        else:
            unknown.append(header)
            continue
        if target is None:
            continue
        if target in used:
            raise CsvError(f"columns {used[target]!r} and {header!r} both map to {target}: "
                           f"ignore one with --map '{header}='")
        used[target] = header
        plan.columns[index] = target
    missing = [m for m in mapping if m not in {h.strip().lower() for h in headers}]
    if missing:
        raise CsvError(f"--map names a column the file does not have: {missing[0]!r} "
                       f"(columns: {', '.join(headers)})")
    if unknown:
        raise CsvError(
            "column" + ("s " if len(unknown) > 1 else " ")
            + ", ".join(repr(u) for u in unknown)
            + " map to no lead field: map with --map 'COLUMN=field' or ignore with "
            f"--map 'COLUMN=' (fields: {', '.join(FIELDS)})")
    for required in ("first_name", "last_name"):
        if required not in used:
            raise CsvError(f"no column gives {required}: map one with --map 'COLUMN={required}'")
    return plan


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str | None
    field: str
    message: str

    def __str__(self) -> str:
        col = f", column {self.column!r} ({self.field})" if self.column else f" ({self.field})"
        return f"line {self.line}{col}: {self.message}"


@dataclass
class CsvReport:
    summary: IntakeSummary
    problems: list[RowProblem]
    #: line -> result, for accepted rows
    accepted: dict[int, ItemResult]

    @property
    def rejected_rows(self) -> int:
        return len({p.line for p in self.problems})

    def line(self) -> str:
        total = len(self.accepted) + self.rejected_rows
        return (f"{total} row{'s' if total != 1 else ''}: {self.summary.created} created, "
                f"{self.summary.duplicates} duplicates, {self.rejected_rows} rejected")


def _read_text(path: Path | str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise CsvError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CsvError(f"{path} is a folder, not a CSV file") from None
    except OSError as exc:
        raise CsvError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 text (byte {exc.start}); save the sheet as "
                       "'CSV UTF-8'") from None


def import_csv(engine: Engine, path: Path | str, *, now: datetime,
               mapping: Mapping[str, str | None] | None = None, source_system: str = "csv",
               progress: Callable[[int, int], None] | None = None) -> CsvReport:
    """Read, map and take in a CSV file; CsvError (nothing written) for a bad file or map."""
    text = _read_text(path)
    previous = csv.field_size_limit(MAX_CELL)
    try:
        return _import(engine, path, text, now, mapping or {}, source_system, progress)
    finally:
        csv.field_size_limit(previous)


def _import(engine: Engine, path: Path | str, text: str, now: datetime,
            mapping: Mapping[str, str | None], source_system: str,
            progress: Callable[[int, int], None] | None) -> CsvReport:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise CsvError(f"{path} is empty (expected a header row)") from None
    except csv.Error as exc:
        raise CsvError(f"{path}, line 1: {exc}") from None
    plan = plan_columns(headers, mapping)
    problems: list[RowProblem] = []
    payloads: list[dict[str, Any]] = []
    lines: list[int] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # A field over the csv limit or a broken quote: that row only.
            problems.append(RowProblem(reader.line_num, None, "row", str(exc)))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) > len(headers):
            problems.append(RowProblem(line, None, "row", f"{len(row)} cells but only "
                                       f"{len(headers)} columns"))
            continue
        payload: dict[str, Any] = {}
        bad = False
        for index, target in plan.columns.items():
            cell = row[index].strip() if index < len(row) else ""
            if not cell:
                continue
            if target in INT_FIELDS:
                digits = cell.replace(",", "").replace("_", "")
                try:
                    payload[target] = int(digits)
                except ValueError:
                    problems.append(RowProblem(line, headers[index], target,
                                               f"{cell[:40]!r} is not a whole number"))
                    bad = True
                continue
            payload[target] = cell
        if not bad:
            payloads.append(payload)
            lines.append(line)
    summary = intake_payloads(engine, payloads, now=now, source_system=source_system,
                              progress=progress) if payloads else IntakeSummary()
    accepted: dict[int, ItemResult] = {}
    for result in summary.items:
        line = lines[result.index]
        if result.outcome == "rejected":
            for p in result.problems:
                problems.append(RowProblem(line, plan.column_of(p.field), p.field, p.message))
        else:
            accepted[line] = result
    problems.sort(key=lambda p: p.line)
    return CsvReport(summary, problems, accepted)
