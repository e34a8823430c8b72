"""A finished walk on disk: numbered folders, frames with their infotext, walk.json, the video."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.walk.easing import EASINGS
from lib_couple.walk.output import next_walk_folder, plan_from_record, read_walk, save_walk, walk_record
from lib_couple.walk.plan import METHODS, WalkPlan, WalkSettings
from lib_couple.walk.video import count_frames


def test_folders_number_on_from_the_highest_and_ignore_other_entries(tmp_path: Path) -> None:
    (tmp_path / "00001").mkdir()
    (tmp_path / "00007").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "00009.txt").write_text("a file, not a walk")
    assert next_walk_folder(tmp_path).name == "00008"
    assert next_walk_folder(tmp_path).name == "00009"
    assert next_walk_folder(tmp_path / "new").name == "00001"


prompts = st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=2, max_size=4)


@settings(max_examples=40)
@given(
    prompts,
    st.integers(1, 12),
    st.sampled_from(sorted(EASINGS)),
    st.sampled_from(METHODS),
    st.booleans(),
    st.sampled_from([None, "Euler a", "DPM++ 2M"]),
)
def test_walk_json_gives_back_the_plan_and_settings(
    texts: list[str], frames: int, easing: str, method: str, seeded: bool, sampler: str | None
) -> None:
    seeds = tuple(range(3, 3 + len(texts))) if seeded else ()
    plan = WalkPlan(tuple(texts), seeds, frames, easing, method)  # type: ignore[arg-type]
    walk_settings = WalkSettings(64, 96, 3, 1.0, "blurry", sampler)
    record = json.loads(json.dumps(walk_record(plan, walk_settings, plan.positions())))
    assert plan_from_record(record) == (plan, walk_settings)
    assert record["positions"] == plan.positions()


def test_save_writes_frames_with_their_infotext_the_record_and_the_video(tmp_path: Path) -> None:
    plan = WalkPlan(("a red circle", "a blue circle"), (1, 2), frames=2)
    frames = []
    for index in range(len(plan.positions())):
        frame = Image.new("RGB", (32, 32), (80 * index, 0, 0))
        frame.info["parameters"] = f"frame {index}\nSteps: 2"
        frames.append(frame)
    frames[1].info.clear()  # a host that gives no infotext for a frame
    saved = save_walk(tmp_path, frames, plan, WalkSettings(32, 32, 2), ".gif", fps=4)
    assert saved.folder == tmp_path / "00001"
    assert [path.name for path in saved.frames] == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    with Image.open(saved.frames[0]) as first, Image.open(saved.frames[1]) as second:
        assert first.info.get("parameters") == "frame 0\nSteps: 2"
        assert "parameters" not in second.info
    assert plan_from_record(json.loads(saved.record.read_text()))[0] == plan
    assert count_frames(saved.video) == 3


def _good_record() -> dict[str, Any]:
    plan = WalkPlan(("a red circle", "a blue circle"), (1, 2), frames=2)
    return json.loads(json.dumps(walk_record(plan, WalkSettings(32, 32, 2), plan.positions())))


def _with(path: tuple[str, ...], value: object) -> dict[str, Any]:
    record = _good_record()
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is _MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


_MISSING = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("version",), 7, "field 'version' must be one of 1"),
        (("plan",), _MISSING, "has no field 'plan'"),
        (("plan",), [1], "(plan) must hold a JSON object"),
        (("plan", "prompts"), "a red circle", "field 'prompts' must be a list of strings"),
        (("plan", "prompts"), ["one"], "a walk needs at least two keyframe prompts"),
        (("plan", "seeds"), [1, 2.5], "field 'seeds' must be a list of whole numbers"),
        (("plan", "frames"), "8", "field 'frames' must be a whole number"),
        (("plan", "frames"), 0, "frames per transition must be a whole number from 1 to 240"),
        (("plan", "easing"), "bouncy", "easing 'bouncy' is not one of"),
        (("plan", "method"), None, "field 'method' must be one of"),
        (("settings", "width"), True, "field 'width' must be a whole number"),
        (("settings", "cfg"), float("nan"), "field 'cfg' must be a finite number"),
        (("settings", "sampler"), 3, "field 'sampler' must be a string or null"),
    ],
)
def test_a_malformed_walk_record_is_refused_naming_the_file_and_field(
    tmp_path: Path, path: tuple[str, ...], value: object, problem: str
) -> None:
    record = tmp_path / "walk.json"
    record.write_text(json.dumps(_with(path, value)))
    with pytest.raises(CoupleError, match=re.escape(problem)) as refused:
        read_walk(record)
    assert str(record) in str(refused.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{", "is not valid JSON"), ("[]", "must hold a JSON object, not list"), ("[" * 100_000, "")],
)
def test_a_walk_record_that_is_no_json_object_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    record = tmp_path / "walk.json"
    record.write_text(text)
    with pytest.raises(CoupleError, match=re.escape(problem)):
        read_walk(record)
    record.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CoupleError, match="cannot read the walk record"):
        read_walk(record)


def test_a_good_walk_record_reads_back(tmp_path: Path) -> None:
    record = tmp_path / "walk.json"
    record.write_text(json.dumps(_good_record()))
    plan, walk_settings = read_walk(record)
    assert plan == WalkPlan(("a red circle", "a blue circle"), (1, 2), frames=2)
    assert walk_settings == WalkSettings(32, 32, 2)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("width", 20000, "width"),
        ("height", 4, "height"),
        ("steps", 10_000, "steps"),
        ("cfg", 1e300, "CFG scale"),
    ],
)
def test_a_record_asking_for_settings_past_the_limits_is_refused(
    field: str, value: object, problem: str
) -> None:
    record = _good_record()
    record["settings"][field] = value
    with pytest.raises(CoupleError, match=rf"walk\.json: .*{problem}"):
        plan_from_record(record)
