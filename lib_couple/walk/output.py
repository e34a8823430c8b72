"""Where a finished walk goes: `<root>/NNNNN/` with its frames, `walk.json` and the video.

Every host saves the same way, so a walk from Forge or from the standalone app can be read and
re-rendered alike: `walk.json` holds the plan and the sampling settings, which is all a renderer
needs to make any frame again on the same model.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from lib_couple.errors import CoupleError
from lib_couple.saved_json import SavedJson
from lib_couple.walk.plan import METHODS, WalkPlan, WalkSettings
from lib_couple.walk.video import export_video

RECORD_VERSION = 1
PARAMETERS_KEY = "parameters"  # the PNG text chunk WebUIs read a generation's infotext from


@dataclass(frozen=True)
class SavedWalk:
    folder: Path
    frames: tuple[Path, ...]
    record: Path
    video: Path


def next_walk_folder(root: Path) -> Path:
    """Create and return the first free `root/NNNNN` after the highest number already there."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(entry.name) for entry in root.iterdir() if entry.name.isdigit() and entry.is_dir()]
    number = max(numbers, default=0) + 1
    while True:
        folder = root / f"{number:05d}"
        try:
            folder.mkdir()  # atomic: two walks finishing together cannot share a folder
            return folder
        except FileExistsError:
            number += 1


def walk_record(plan: WalkPlan, settings: WalkSettings, positions: Sequence[float]) -> dict[str, Any]:
    """What `walk.json` holds: enough to render any frame of the walk again."""
    return {
        "version": RECORD_VERSION,
        "plan": {**dataclasses.asdict(plan), "prompts": list(plan.prompts), "seeds": list(plan.seeds)},
        "settings": dataclasses.asdict(settings),
        "positions": list(positions),
    }


def plan_from_record(record: object, source: str = "walk.json") -> tuple[WalkPlan, WalkSettings]:
    """The plan and settings a `walk.json` was written from; a malformed one is refused
    (CoupleError naming `source` and the field) before anything is built."""
    saved = SavedJson(record, source)
    saved.choice("version", [RECORD_VERSION])
    plan, settings = saved.child("plan"), saved.child("settings")
    walk_plan = WalkPlan(
        tuple(plan.items("prompts", "text")),
        tuple(plan.items("seeds", "integer")),
        plan.integer("frames"),
        str(plan.text("easing")),
        plan.choice("method", METHODS),
    )
    walk_settings = WalkSettings(
        width=settings.integer("width"),
        height=settings.integer("height"),
        steps=settings.integer("steps"),
        cfg=settings.number("cfg"),
        negative=str(settings.text("negative")),
        sampler=settings.text("sampler", optional=True),
    )
    try:
        walk_plan.validate()
        walk_settings.validate()  # a hand-edited record must not ask for a 20000 px frame
    except CoupleError as error:
        raise CoupleError(f"{source}: {error}") from None
    return walk_plan, walk_settings


def read_walk(path: Path) -> tuple[WalkPlan, WalkSettings]:
    """The plan and settings of a saved walk's `walk.json`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CoupleError(f"cannot read the walk record {path}: {error}") from None
    return plan_from_record(SavedJson.parse(text, str(path)).data, str(path))


def _png_info(frame: Image.Image) -> PngImagePlugin.PngInfo | None:
    text = frame.info.get(PARAMETERS_KEY)
    if not isinstance(text, str):
        return None
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_KEY, text)
    return info


def save_walk(
    root: Path,
    frames: Sequence[Image.Image],
    plan: WalkPlan,
    settings: WalkSettings,
    video_format: str,
    fps: float,
) -> SavedWalk:
    """Write the frames (PNG, with their infotext when the host gave one), `walk.json` and the video."""
    return save_frames(root, frames, walk_record(plan, settings, plan.positions()), video_format, fps)


def save_frames(
    root: Path, frames: Sequence[Image.Image], record: dict[str, Any], video_format: str, fps: float
) -> SavedWalk:
    """A walk's folder from its frames and its `walk.json` record (a keyframe walk's or the
    explorer's)."""
    folder = next_walk_folder(root)
    paths = []
    for index, frame in enumerate(frames, start=1):
        path = folder / f"frame_{index:04d}.png"
        frame.save(path, pnginfo=_png_info(frame))
        paths.append(path)
    record_path = folder / "walk.json"
    record_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    video = export_video(list(frames), folder / f"walk{video_format}", fps=fps)
    return SavedWalk(folder, tuple(paths), record_path, video)
