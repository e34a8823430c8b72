"""Where the standalone app saves its images: Forge's outputs layout, PNG with the parameters chunk.

`<root>/txt2img-images/YYYY-MM-DD/NNNNN-SEED.png` (img2img in `img2img-images`), numbered on from
the highest number already in the day's folder, as Forge numbers them. The infotext is the PNG
text chunk `parameters`, which Forge's PNG Info tab and our paste read back.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from PIL import Image, PngImagePlugin

from lib_couple.errors import CoupleError
from lib_couple.files import file_lock

PARAMETERS_KEY = "parameters"
TAB_FOLDERS = {"txt2img": "txt2img-images", "img2img": "img2img-images"}
_NUMBERED = re.compile(r"^(\d+)-")
_NUMBERING = ".numbering"  # its `.lock` file serialises numbering between threads and processes


def png_info(parameters: str) -> PngImagePlugin.PngInfo:
    """The PNG text chunk `parameters`, where Forge keeps the infotext."""
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_KEY, parameters)
    return info


def day_folder(root: Path, tab: str, day: datetime.date) -> Path:
    """`root/<tab>-images/YYYY-MM-DD`."""
    if tab not in TAB_FOLDERS:
        raise CoupleError(f"outputs: tab {tab!r} is not one of {', '.join(TAB_FOLDERS)}")
    return root / TAB_FOLDERS[tab] / day.isoformat()


def next_number(folder: Path) -> int:
    """One more than the highest `NNNNN-` prefix in `folder` (0 for an empty or missing one)."""
    if not folder.is_dir():
        return 0
    numbers = [int(match[1]) for entry in folder.iterdir() if (match := _NUMBERED.match(entry.name))]
    return max(numbers, default=-1) + 1


def save_image(
    root: Path,
    tab: str,
    image: Image.Image,
    parameters: str,
    seed: int,
    day: datetime.date | None = None,
) -> Path:
    """Save `image` as `NNNNN-SEED.png` with its parameters; returns the path.

    Names differ by seed, so an exclusive create alone would let two saves take one number:
    the number is chosen and the file created under the folder's lock."""
    folder = day_folder(root, tab, day or datetime.date.today())
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / _NUMBERING):
        path = folder / f"{next_number(folder):05d}-{seed}.png"
        try:
            with path.open("xb") as file:
                image.save(file, format="PNG", pnginfo=png_info(parameters))
        except FileExistsError:
            raise CoupleError(f"outputs: {path} was written by another program meanwhile") from None
        except BaseException:
            path.unlink(missing_ok=True)  # no half-written image under a number
            raise
    return path
