"""Presets through the backend: saved, listed, loaded and deleted in a JSON file, with clear errors."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.errors import CoupleError
from lib_couple.ui.presets import MAX_NAME, PresetActions, PresetStore


@st.composite
def mappings(draw: st.DrawFn) -> list[list[float]]:
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        x1, x2 = sorted(draw(st.lists(st.integers(0, 100), min_size=2, max_size=2, unique=True)))
        y1, y2 = sorted(draw(st.lists(st.integers(0, 100), min_size=2, max_size=2, unique=True)))
        rows.append([x1 / 100, x2 / 100, y1 / 100, y2 / 100, draw(st.integers(0, 50)) / 10])
    return rows


names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=MAX_NAME).filter(str.strip)


@settings(max_examples=40)
@given(names, mappings())
def test_a_saved_preset_loads_back_as_the_same_rows(
    tmp_path_factory: pytest.TempPathFactory, name: str, rows: list[list[float]]
) -> None:
    store = PresetStore(tmp_path_factory.mktemp("presets") / "presets.json")
    saved = store.save(name, json.dumps(rows))
    assert saved == name.strip()
    assert store.get(saved) == rows
    assert saved in store.names()
    text, status = PresetActions(store).on_load(saved)
    assert json.loads(text) == rows
    assert status.startswith("Loaded")


def test_bad_names_and_mappings_are_refused_and_change_nothing(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "presets.json")
    store.save("two columns", [[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1]])
    before = store.path.read_text()
    with pytest.raises(CoupleError, match="give the preset a name"):
        store.save("   ", [[0, 1, 0, 1, 1]])
    with pytest.raises(CoupleError, match="at most 64 characters"):
        store.save("x" * 65, [[0, 1, 0, 1, 1]])
    with pytest.raises(CoupleError, match="x1 = 0.6 must be smaller than x2 = 0.2"):
        store.save("broken", [[0.6, 0.2, 0, 1, 1]])
    with pytest.raises(CoupleError, match="not valid JSON"):
        store.save("broken", "[[0, 1")
    assert store.path.read_text() == before
    _, status = PresetActions(store).on_save("", "[[0, 1, 0, 1, 1]]")
    assert status.startswith("⚠️ give the preset a name")


def test_delete_removes_only_that_preset(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "presets.json")
    store.save("a", [[0, 1, 0, 1, 1]])
    store.save("b", [[0, 1, 0, 0.5, 2]])
    _, status = PresetActions(store).on_delete("a")
    assert status == "Deleted preset **a**."
    assert store.names() == ["b"]
    with pytest.raises(CoupleError, match="there is no preset 'a'"):
        store.delete("a")


def test_a_corrupt_file_is_reported_with_its_path_not_raised_in_the_ui(tmp_path: Path) -> None:
    path = tmp_path / "presets.json"
    path.write_text("{not json")
    store = PresetStore(path)
    with pytest.raises(CoupleError, match="cannot be read .*fix or delete it"):
        store.names()
    _, status = PresetActions(store).on_load("a")
    assert status.startswith("⚠️ the presets file")
    assert str(path) in status
    path.write_text("[1, 2]")
    with pytest.raises(CoupleError, match="not a JSON object"):
        store.load()


def test_no_file_means_no_presets(tmp_path: Path) -> None:
    assert PresetStore(tmp_path / "missing.json").names() == []


def test_concurrent_saves_keep_every_name_and_a_valid_file(tmp_path: Path) -> None:
    # Every save of every thread reads, changes and writes the whole file.
    store = PresetStore(tmp_path / "presets.json")
    names = [f"preset {n}" for n in range(40)]
    start = threading.Barrier(8)

    def save_some(offset: int) -> None:
        start.wait()
        for name in names[offset::8]:
            store.save(name, [[0, 1, 0, 1, 1 + names.index(name) / 10]])

    threads = [threading.Thread(target=save_some, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = json.loads(store.path.read_text())
    assert sorted(saved) == sorted(names)
    assert all(saved[name] == [[0, 1, 0, 1, 1 + n / 10]] for n, name in enumerate(names))
    assert [entry.name for entry in tmp_path.iterdir() if entry.suffix == ".tmp"] == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "cannot be read"),
        ("[1, 2]", "is not a JSON object"),
        ('{"a": "not rows"}', "preset 'a': the Advanced mapping is str"),
        ('{"a": [[0, 1, 0]]}', "preset 'a': mapping row 1 is"),
        ('{"a": [[0.6, 0.2, 0, 1, 1]]}', "preset 'a': mapping row 1: x1 = 0.6 must be smaller"),
        ('{"a": [[0, 1, 0, 1, NaN]]}', "preset 'a': mapping row 1: weight is nan"),
    ],
)
def test_a_malformed_file_is_refused_by_name_and_saves_change_nothing(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "presets.json"
    path.write_text(text)
    store = PresetStore(path)
    with pytest.raises(CoupleError, match=re.escape(problem)) as refused:
        store.names()
    assert str(path) in str(refused.value)
    with pytest.raises(CoupleError):
        store.save("b", [[0, 1, 0, 1, 1]])
    with pytest.raises(CoupleError):
        store.delete("a")
    assert path.read_text() == text
