"""The mapping argument, the Advanced table and the mode switch, as pure functions."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.params import DEFAULT_MAPPING, params_from_args
from lib_couple.ui import mapping_table
from lib_couple.ui.mapping_table import (
    classify,
    mapping_for_mode,
    mapping_to_rows,
    rows_to_mapping,
    sync_from_mapping,
    sync_from_table,
    table_status,
)
from tests.ui.helpers import AccordionState, png_base64

fractions = st.floats(0, 1, allow_nan=False).map(lambda v: round(v, 2))
cells = st.one_of(
    fractions,
    st.integers(-3, 3),
    st.none(),
    st.just(""),
    st.just(math.nan),
    st.sampled_from(["0.25", " 1 ", "abc", "inf"]),
)
tables = st.lists(st.lists(cells, min_size=5, max_size=5), max_size=6)
valid_rows = st.lists(
    st.tuples(fractions, fractions, fractions, fractions, st.floats(0, 5).map(lambda v: round(v, 2))).map(
        lambda r: [min(r[0], r[1]), max(r[0], r[1]) + 0.0, min(r[2], r[3]), max(r[2], r[3]), r[4]]
    ),
    min_size=1,
    max_size=5,
)


def test_default_table_is_the_default_mapping() -> None:
    assert rows_to_mapping(mapping_table.default_rows()) == [list(row) for row in DEFAULT_MAPPING]
    assert table_status(DEFAULT_MAPPING).startswith("✅ 2 regions")


def test_cells_become_numbers_none_or_text() -> None:
    rows: list[list[object]] = [
        ["0", 0.5, " 0 ", 1, "1.5"],
        ["x", None, math.nan, "", True],
        [None, "", None, None, None],
    ]
    assert rows_to_mapping(rows) == [[0.0, 0.5, 0.0, 1.0, 1.5], ["x", None, None, None, True]]


@settings(max_examples=60)
@given(tables)
def test_table_json_round_trip(rows: list[list[object]]) -> None:
    mapping = rows_to_mapping(rows)
    text = mapping_table.mapping_text(mapping)
    assert json.loads(text) == mapping  # plain JSON: no NaN, no Infinity
    assert "NaN" not in text
    assert "Infinity" not in text
    assert rows_to_mapping(mapping_to_rows(mapping)) == mapping
    assert params_from_args([True, True, "Advanced", "", None, None, None, text]).mapping == mapping


@settings(max_examples=60)
@given(tables)
def test_table_status_never_raises_and_names_the_problem(rows: list[list[object]]) -> None:
    text, status = sync_from_table(rows, "Advanced", "not yet JSON")
    assert text is not None
    assert status.startswith(("✅", "⚠️"))
    if status.startswith("⚠️"):
        assert "mapping" in status


def test_invalid_rows_are_still_written_with_a_message() -> None:
    text, status = sync_from_table([[0.5, 0.2, 0, 1, 1]], "Advanced", "[]")
    assert json.loads(text or "") == [[0.5, 0.2, 0.0, 1.0, 1.0]]
    assert status == "⚠️ mapping row 1: x1 = 0.5 must be smaller than x2 = 0.2"


def test_empty_rows_are_ignored_and_said_so() -> None:
    _, status = sync_from_table([[0, 1, 0, 1, 1], [None] * 5], "Advanced", "")
    assert status == "✅ 1 region: the prompt needs 1 line (1 empty row ignored)"
    _, status = sync_from_table([[]], "Advanced", "")
    assert status.startswith("⚠️ the Advanced mapping is empty")


def test_table_edits_do_not_touch_the_mapping_in_mask_mode() -> None:
    masks = json.dumps([{"mask": png_base64(), "weight": 1.0}])
    assert sync_from_table([[0, 1, 0, 1, 1]], "Mask", masks)[0] is None


def test_unchanged_table_leaves_the_mapping() -> None:
    assert (
        sync_from_table([[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1]], "Basic", json.dumps(DEFAULT_MAPPING))[0]
        is None
    )


def test_classify() -> None:
    assert classify("[[0, 1, 0, 1, 1]]")[0] == "rows"
    assert classify('[{"mask": "x", "weight": 1}]')[0] == "masks"
    assert classify("[]")[0] == classify("")[0] == classify(None)[0] == "empty"
    assert classify("{not json")[0] == classify('{"a": 1}')[0] == classify("[1, [2]]")[0] == "invalid"


def test_pasted_mapping_reaches_the_table() -> None:
    sync = sync_from_mapping("[[0, 1, 0, 0.5, 1]]", "Advanced", mapping_table.default_rows(), "[]")
    assert sync.rows == [[0.0, 1.0, 0.0, 0.5, 1.0]]
    assert sync.status == "✅ 1 region: the prompt needs 1 line"
    assert sync.masks is None


def test_bad_pasted_mapping_gives_a_message_and_keeps_the_stores() -> None:
    sync = sync_from_mapping("[[0, 1", "Advanced", mapping_table.default_rows(), "[]")
    assert sync.rows is None
    assert sync.masks is None
    assert (sync.status or "").startswith("⚠️ the mapping is not valid JSON")


def test_mask_mapping_goes_to_the_mask_list() -> None:
    text = json.dumps([{"mask": png_base64(), "weight": 2.0}])
    sync = sync_from_mapping(text, "Mask", mapping_table.default_rows(), "[]")
    assert sync.masks == text
    assert sync.rows is None


def test_mode_switch_picks_the_store_of_the_mode() -> None:
    masks = json.dumps([{"mask": png_base64(), "weight": 1.0}])
    rows = [[0, 1, 0, 1, 1]]
    assert mapping_for_mode("Mask", "[[0, 1, 0, 1, 1]]", rows, masks) == masks
    assert mapping_for_mode("Advanced", masks, rows, masks) == "[[0.0, 1.0, 0.0, 1.0, 1.0]]"
    assert mapping_for_mode("Basic", "[[0, 1, 0, 1, 1]]", rows, masks) is None
    assert mapping_for_mode("Mask", masks, rows, "[]") is None  # a pasted mask list wins
    assert mapping_for_mode("Mask", "[]", rows, "[]") is None
    assert mapping_for_mode("Advanced", "[[0, 0.5, 0, 1, 1]]", rows, masks) is None  # a paste wins


@settings(max_examples=40)
@given(
    start_mode=st.sampled_from(["Basic", "Advanced", "Mask"]),
    paste_mode=st.sampled_from(["Basic", "Advanced", "Mask"]),
    pasted=valid_rows,
    table=tables,
    with_masks=st.booleans(),
)
def test_events_settle_and_the_argument_matches_the_mode(
    start_mode: str, paste_mode: str, pasted: list[list[float]], table: list[list[object]], with_masks: bool
) -> None:
    masks = json.dumps([{"mask": png_base64(), "weight": 1.5}] if with_masks else [])
    state = AccordionState(mode=start_mode, rows=table)
    state.changed.append("rows")
    state.settle()
    # A paste or Send-to sets mode and mapping in one update: rows, or Mask mode's list.
    state.set("mode", paste_mode)
    state.set("mapping", masks if paste_mode == "Mask" else json.dumps(pasted))
    state.settle()
    if paste_mode == "Mask":
        assert state.mapping == state.masks == masks
    else:
        assert json.loads(state.mapping) == pasted
        assert rows_to_mapping(state.rows) == pasted
    # Switching modes afterwards keeps each store.
    store = state.masks
    for mode in ("Mask", "Advanced", "Basic", "Mask"):
        state.set("mode", mode)
        state.settle()
        assert state.masks == store
        expected = store if mode == "Mask" else json.dumps(rows_to_mapping(state.rows))
        assert json.loads(state.mapping) == json.loads(expected)


def test_the_table_writes_nothing_while_the_editor_owns_the_mapping() -> None:
    from lib_couple.ui.region_panels import EDITOR_OWNS_MAPPING, TABLE_GATE_JS, on_table_change

    mapping, status = on_table_change([[0, 1, 0, 1, 1]], EDITOR_OWNS_MAPPING, "[[0, 0.5, 0, 1, 1]]")
    assert mapping == {"__type__": "update"}
    assert status == {"__type__": "update"}
    written, _ = on_table_change([[0, 1, 0, 1, 1]], "Advanced", "[[0, 0.5, 0, 1, 1]]")
    assert json.loads(written) == [[0, 1, 0, 1, 1]]  # without the editor, as before
    assert "ForgeCouple.editorActive" in TABLE_GATE_JS
