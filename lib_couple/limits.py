"""Every size, count and length a user or an API caller can send, with its limit, in one place.

Each check runs before anything is allocated and raises CoupleError naming the field, what is
wrong with the value (empty, not a number, NaN, infinite, too large...) and the allowed range.
The README's "Limits" table lists the same values (a test keeps the two in step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lib_couple.errors import CoupleError

# A number typed as text longer than this is refused before it is parsed.
MAX_NUMBER_CHARS = 64


@dataclass(frozen=True)
class NumberLimit:
    """A number field: its name as the user sees it, the range, and whether it is whole."""

    field: str
    low: float
    high: float
    whole: bool = False
    multiple: int = 1

    def allowed(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        step = f", a multiple of {self.multiple}" if self.multiple > 1 else ""
        return f"{kind} from {_bound(self.low)} to {_bound(self.high)}{step}"

    def _refuse(self, problem: str) -> CoupleError:
        return CoupleError(f"{self.field} must be {self.allowed()}; got {problem}")

    def _number(self, value: object) -> int | float:
        """The value as an int or a finite float; text is parsed, anything else refused."""
        if value is None:
            raise self._refuse("nothing (null)")
        if isinstance(value, bool):
            raise self._refuse(f"{value} (a true/false value)")
        if isinstance(value, str):
            text = value.strip()
            if len(text) > MAX_NUMBER_CHARS:
                raise self._refuse(f"a text of {len(text)} characters")
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    raise self._refuse(f"{text!r} (not a number)") from None
        if isinstance(value, int):
            return value
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise self._refuse(f"a {type(value).__name__} (not a number)") from None
        if math.isnan(number):
            raise self._refuse("NaN")
        if math.isinf(number):
            raise self._refuse("an infinite value")
        return number

    def check(self, value: object) -> float:
        """The value as a float within the limit."""
        return float(self._checked(value))

    def check_int(self, value: object) -> int:
        """The value as an int within the limit (a float must be whole)."""
        return int(self._checked(value))

    def _checked(self, value: object) -> int | float:
        number = self._number(value)
        if number > self.high:  # int comparison: 2**70 needs no float
            raise self._refuse(f"{_short(number)} (too large)")
        if number < self.low:
            raise self._refuse(f"{_short(number)} (too small)")
        if self.whole and not float(number).is_integer():
            raise self._refuse(f"{number:g} (not a whole number)")
        if self.multiple > 1 and int(number) % self.multiple:
            raise self._refuse(f"{_short(number)} (not a multiple of {self.multiple})")
        return number


def _bound(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _short(number: int | float) -> str:
    if isinstance(number, int) and abs(number).bit_length() > 64:  # str() of 10**5000 raises
        return f"a number of about {int(abs(number).bit_length() * math.log10(2)) + 1} digits"
    return f"{number:g}" if isinstance(number, float) else str(number)


@dataclass(frozen=True)
class TextLimit:
    """A text field and its longest allowed length in characters."""

    field: str
    max_chars: int

    def check(self, value: object) -> str:
        """The value as text within the limit; None is the empty text."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise CoupleError(f"{self.field} must be text, got a {type(value).__name__}")
        if len(value) > self.max_chars:
            raise CoupleError(f"{self.field} is {len(value)} characters long; the limit is {self.max_chars}")
        return value


@dataclass(frozen=True)
class CountLimit:
    """A count of things (regions, masks, keyframes, frames) and its largest allowed value."""

    field: str
    low: int
    high: int

    def check(self, count: int) -> int:
        if not self.low <= count <= self.high:
            raise CoupleError(
                f"{self.field}: {count} is outside {self.low} to {self.high}; "
                f"give at least {self.low} and at most {self.high}"
            )
        return count


# --- image and sampling (the standalone app, the CLI, the walk) ---
MAX_SIDE = 2048
WIDTH = NumberLimit("width", 8, MAX_SIDE, whole=True, multiple=8)
HEIGHT = NumberLimit("height", 8, MAX_SIDE, whole=True, multiple=8)
STEPS = NumberLimit("steps", 1, 150, whole=True)
CFG = NumberLimit("CFG scale", 0, 30)
MAX_SEED = 2**32 - 1
SEED = NumberLimit("seed", -1, MAX_SEED, whole=True)  # -1: a random seed
DENOISING = NumberLimit("denoising strength", 0, 1)

# --- prompts and the couple's controls (every host, Forge included) ---
PROMPT = TextLimit("the prompt", 20_000)
NEGATIVE = TextLimit("the negative prompt", 20_000)
SEPARATOR = TextLimit("the separator", 100)
TILE_REPLACE = TextLimit("the tile replacement text", 20_000)
REGIONS = CountLimit("number of regions (prompt lines, mapping rows or masks)", 1, 32)
WEIGHT = NumberLimit("a region's weight", 0, 5)
BACKGROUND_WEIGHT = NumberLimit("the global line's weight", 0, 5)
TILES = NumberLimit("tiles per side", 1, 64, whole=True)
TILE_THRESHOLD = NumberLimit("the tile threshold", 0, 1)
# Flux / Chroma: where and how long the joint-attention mask applies (attention/joint_attention.py)
FLUX_BLOCK = NumberLimit("a Flux block index", 0, 1024, whole=True)  # doubles then singles
FLUX_SHARE = NumberLimit("the share of the schedule with regions", 0, 1)
FLUX_BASE_RATIO = NumberLimit("the base ratio", 0, 0.95)  # 1 would be no regions at twice the cost
FLUX_REGION_PADDING = NumberLimit("T5 pad tokens kept after a region line", 0, 512, whole=True)
# Region masks are float32 [regions, height, width]; in Forge the size is Forge's own, so the
# product is capped (1 GiB of masks) rather than each side alone.
MAX_PLAN_SIDE = 8192
MAX_MASK_ELEMENTS = 2**28

# --- the mapping (Advanced rows, Mask layers) as JSON text or a list ---
MAPPING_JSON = TextLimit("the mapping JSON", 32 * 2**20)  # Mask mode carries base64 images
MAX_JSON_DEPTH = 4  # [[x1, ...]] is 2, [{"mask": ...}] is 2
MASK_BASE64 = TextLimit("a mask's base64 text", 16 * 2**20)
MAX_MASK_PIXELS = 4096 * 4096  # read from the image's header, before it is decoded

# --- pasted parameters (infotext) ---
INFOTEXT = TextLimit("the parameters text", 2**20)

# --- the latent walk ---
KEYFRAMES = CountLimit("number of keyframes", 2, 32)
FRAMES_PER_TRANSITION = NumberLimit("frames per transition", 1, 240, whole=True)
WALK_FRAMES = CountLimit("frames in the whole walk", 2, 2000)
FPS = NumberLimit("video frames per second", 1, 60)
WALK_SEED = NumberLimit("a keyframe's seed", 0, MAX_SEED, whole=True)
WALK_SEEDS_TEXT = TextLimit("the seeds", 2000)
KEYFRAME_PROMPTS = TextLimit("the keyframe prompts", 32 * 20_000)


def check_mask_budget(regions: int, width: int, height: int) -> None:
    """Refuse region masks that would not fit the budget, before any is allocated.

    Too few regions is each mode's own message (it says how many lines that mode needs)."""
    REGIONS.check(max(REGIONS.low, regions))
    for name, side in (("width", width), ("height", height)):
        if not 8 <= side <= MAX_PLAN_SIDE:
            raise CoupleError(f"image {name} {side} is outside 8 to {MAX_PLAN_SIDE} pixels")
    if regions * width * height > MAX_MASK_ELEMENTS:
        raise CoupleError(
            f"{regions} regions at {width}x{height} need {regions * width * height * 4 / 2**30:.1f} GiB of "
            f"masks; the limit is {MAX_MASK_ELEMENTS * 4 / 2**30:g} GiB: use fewer regions or a smaller image"
        )


def check_json_depth(text: str, field: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nested deeper than `max_depth`, by one scan, before it is parsed."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise CoupleError(f"{field} is nested deeper than {max_depth} levels")
        elif char in "]}":
            depth -= 1


def check_nesting(value: object, field: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """The same for an already-parsed value (lists and dicts), without recursion."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth + 1 > max_depth:
                raise CoupleError(f"{field} is nested deeper than {max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
