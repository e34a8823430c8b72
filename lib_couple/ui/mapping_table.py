"""The `mapping` argument and its two stores: Advanced mode's table and Mask mode's mask list.

The hidden mapping textbox (JSON text) is the script argument, so nothing needs a server round
trip or server state before Generate. In Basic and Advanced mode it mirrors the table, in Mask
mode the mask list. Infotext paste, Send-to and the region editor write it directly; its content
then flows back into the store it belongs to. Every function compares before writing, so the
change events between the textbox and the stores settle after one round.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lib_couple.errors import CoupleError
from lib_couple.params import DEFAULT_MAPPING, parse_mapping_value
from lib_couple.regions import parse_mapping

HEADERS: tuple[str, ...] = ("x1", "x2", "y1", "y2", "weight")
Cell = float | str | bool | None
MappingKind = Literal["rows", "masks", "empty", "invalid"]


def default_rows() -> list[list[Cell]]:
    return [list(row) for row in DEFAULT_MAPPING]


def _cell(value: object) -> Cell:
    """A table cell as the mapping holds it: a number, None when empty, otherwise the raw text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text  # kept, so the validation message can name it
    return number if math.isfinite(number) else text


def rows_to_mapping(rows: Sequence[Sequence[object]] | None) -> list[list[Cell]]:
    """The table's rows as mapping rows; wholly empty rows (just added, not filled) are skipped."""
    mapping = []
    for row in rows or []:
        cells = [_cell(value) for value in row]
        if any(cell is not None for cell in cells):
            mapping.append(cells)
    return mapping


def mapping_to_rows(mapping: Sequence[Any]) -> list[list[Cell]]:
    """Table rows for a mapping: five cells each, padded with empty cells or cut."""
    rows = []
    for row in mapping:
        values = list(row) if isinstance(row, (list, tuple)) else [row]
        cells = [_cell(value) for value in values[: len(HEADERS)]]
        rows.append(cells + [None] * (len(HEADERS) - len(cells)))
    return rows


def mapping_text(mapping: Sequence[Any]) -> str:
    return json.dumps(list(mapping))


def classify(text: str | None) -> tuple[MappingKind, list[Any]]:
    """What the mapping text holds: Advanced rows, Mask entries, nothing, or something invalid."""
    try:
        value = parse_mapping_value(text)
    except CoupleError:
        return "invalid", []
    if not value:
        return "empty", value
    if all(isinstance(item, (list, tuple)) for item in value):
        return "rows", value
    if all(isinstance(item, dict) for item in value):
        return "masks", value
    return "invalid", value


def _same(text: str | None, value: Sequence[Any]) -> bool:
    try:
        return parse_mapping_value(text) == list(value)
    except CoupleError:
        return False


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def table_status(mapping: Sequence[Any], skipped: int = 0) -> str:
    """One Markdown line: how many regions, or what is wrong with which row."""
    try:
        rows = parse_mapping(list(mapping))
    except CoupleError as error:
        return f"⚠️ {error}"
    note = f" ({_count(skipped, 'empty row')} ignored)" if skipped else ""
    return f"✅ {_count(len(rows), 'region')}: the prompt needs {_count(len(rows), 'line')}{note}"


def sync_from_table(
    rows: Sequence[Sequence[object]] | None, mode: str, current: str | None
) -> tuple[str | None, str]:
    """After a table edit: (new mapping text, or None to keep it; status line).

    The table feeds the argument except in Mask mode; an invalid table is still written, so a
    generation fails with the row's message instead of silently using older rows.
    """
    mapping = rows_to_mapping(rows)
    skipped = len(rows or []) - len(mapping)
    status = table_status(mapping, skipped)
    if mode == "Mask" or _same(current, mapping):
        return None, status
    return mapping_text(mapping), status


@dataclass(frozen=True)
class MappingSync:
    """Where a new mapping text goes: table rows, mask list text, Advanced status (None: keep)."""

    rows: list[list[Cell]] | None = None
    masks: str | None = None
    status: str | None = None


def sync_from_mapping(
    text: str | None, mode: str, rows: Sequence[Sequence[object]] | None, masks: str | None
) -> MappingSync:
    """After the mapping text changed (paste, Send-to, the region editor, a store)."""
    try:
        value = parse_mapping_value(text)
    except CoupleError as error:
        return MappingSync(status=f"⚠️ {error}")
    kind, _ = classify(text)
    if kind == "rows" or (kind == "empty" and mode != "Mask"):
        new_rows = None if rows_to_mapping(rows) == value else mapping_to_rows(value)
        return MappingSync(rows=new_rows, status=table_status(value))
    if kind in ("masks", "empty"):
        return MappingSync(masks=None if _same(masks, value) else mapping_text(value))
    return MappingSync(status="⚠️ the mapping must be a list of [x1, x2, y1, y2, weight] rows")


def mapping_for_mode(
    mode: str, current: str | None, rows: Sequence[Sequence[object]] | None, masks: str | None
) -> str | None:
    """The mapping text after a mode switch, or None to keep it.

    A mapping that already suits the new mode is kept: a paste sets mode and mapping together,
    and the table may not have caught up yet.
    """
    kind, _ = classify(current)
    if mode == "Mask":
        if kind == "masks":
            return None
        target = masks if masks and classify(masks)[0] == "masks" else "[]"
        return None if current == target else target
    if kind == "rows":
        return None
    target = mapping_text(rows_to_mapping(rows))
    return None if current == target else target
