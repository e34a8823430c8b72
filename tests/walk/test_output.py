"""A finished walk on disk: numbered folders, frames with their infotext, walk.json, the video."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.walk.easing import EASINGS
from lib_couple.walk.output import next_walk_folder, plan_from_record, save_walk, walk_record
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
