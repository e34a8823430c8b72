"""lib_couple/files.py: a read-change-write under file_lock loses nothing, across processes too;
write_atomically leaves the old file or the new one, never a temporary file."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from lib_couple.files import file_lock, write_atomically


def _add_name(path: str, name: str) -> None:
    """What a preset save does: read the file, add one entry, write it back (gradio-free)."""
    target = Path(path)
    with file_lock(target):
        names = json.loads(target.read_text()) if target.exists() else []
        write_atomically(target, json.dumps([*names, name]))


def test_writers_in_other_processes_lose_no_change(tmp_path: Path) -> None:
    path = tmp_path / "names.json"
    names = [f"process {n}" for n in range(24)]
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.starmap(_add_name, [(str(path), name) for name in names])
    assert sorted(json.loads(path.read_text())) == sorted(names)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["names.json", "names.json.lock"]


def test_an_atomic_write_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "presets.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    write_atomically(path, '{"a": 1}')
    assert json.loads(path.read_text()) == {"a": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "presets.json"
    path.write_text('{"kept": 1}')
    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, "\ud800")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text() == '{"kept": 1}'
    assert [entry.name for entry in tmp_path.iterdir()] == ["presets.json"]
