"""The app's outputs folder: Forge's layout and numbering, PNG with the parameters chunk."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
from PIL import Image

from lib_couple.errors import CoupleError
from lib_couple.ui.outputs import next_number, save_image

DAY = datetime.date(2026, 12, 3)


def test_images_are_numbered_pngs_under_the_tab_and_the_day(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 8), (200, 10, 10))
    first = save_image(tmp_path, "txt2img", image, "a red circle\nSteps: 2, Seed: 7", 7, DAY)
    second = save_image(tmp_path, "txt2img", image, "again", 8, DAY)
    other = save_image(tmp_path, "img2img", image, "img", 7, DAY)
    assert first == tmp_path / "txt2img-images" / "2026-12-03" / "00000-7.png"
    assert second.name == "00001-8.png"
    assert other == tmp_path / "img2img-images" / "2026-12-03" / "00000-7.png"
    with Image.open(first) as saved:
        assert saved.format == "PNG"
        assert saved.info["parameters"] == "a red circle\nSteps: 2, Seed: 7"
        assert saved.size == (16, 8)


def test_numbering_goes_on_from_the_highest_number_in_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "txt2img-images" / DAY.isoformat()
    folder.mkdir(parents=True)
    for name in ("00003-1.png", "00011-2.png", "notes.txt", "0007.png"):
        (folder / name).write_bytes(b"")
    assert next_number(folder) == 12
    assert next_number(tmp_path / "missing") == 0
    assert save_image(tmp_path, "txt2img", Image.new("L", (8, 8)), "p", 5, DAY).name == "00012-5.png"


def test_concurrent_saves_never_share_a_file(tmp_path: Path) -> None:
    image = Image.new("RGB", (8, 8))
    paths: list[Path] = []

    def save(seed: int) -> None:
        paths.append(save_image(tmp_path, "txt2img", image, f"seed {seed}", seed, DAY))

    threads = [threading.Thread(target=save, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(path.name.split("-")[0] for path in paths)
    assert numbers == [f"{n:05d}" for n in range(8)]
    for path in paths:
        with Image.open(path) as saved:
            assert saved.info["parameters"] == f"seed {path.stem.split('-')[1]}"


def test_an_unknown_tab_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CoupleError, match="tab 'extras'"):
        save_image(tmp_path, "extras", Image.new("L", (8, 8)), "", 1, DAY)
