"""Reading a JSON file the user may have edited (a saved walk, its explorer state).

One object of typed fields; every problem, from bad JSON to a field of the wrong type, is a
CoupleError naming the file and the field, raised before anything is built from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lib_couple.errors import CoupleError


class SavedJson:
    """The fields of one JSON object, read by type; `source` names it in every message."""

    def __init__(self, data: object, source: str) -> None:
        if not isinstance(data, Mapping):
            raise CoupleError(f"{source} must hold a JSON object, not {type(data).__name__}")
        self.data = data
        self.source = source

    @classmethod
    def parse(cls, text: str, source: str) -> SavedJson:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CoupleError(f"{source} is not valid JSON ({error.msg} at character {error.pos})") from None
        except RecursionError:
            raise CoupleError(f"{source} is nested too deeply to be a saved walk") from None
        return cls(data, source)

    def _field(self, name: str) -> Any:
        if name not in self.data:
            raise CoupleError(f"{self.source} has no field {name!r}")
        return self.data[name]

    def _wrong(self, name: str, value: object, expected: str) -> CoupleError:
        return CoupleError(f"{self.source}: field {name!r} must be {expected}, got {value!r:.60}")

    def child(self, name: str) -> SavedJson:
        return SavedJson(self._field(name), f"{self.source} ({name})")

    def choice(self, name: str, choices: Sequence[object]) -> Any:
        value = self._field(name)
        if value not in choices:
            raise self._wrong(name, value, f"one of {', '.join(map(repr, choices))}")
        return value

    def text(self, name: str, optional: bool = False) -> str | None:
        value = self._field(name)
        if not (isinstance(value, str) or (optional and value is None)):
            raise self._wrong(name, value, "a string" + (" or null" if optional else ""))
        return value

    def integer(self, name: str) -> int:
        value = self._field(name)
        if not _is_integer(value):
            raise self._wrong(name, value, "a whole number")
        return int(value)

    def number(self, name: str) -> float:
        value = self._field(name)
        if not _is_number(value):
            raise self._wrong(name, value, "a finite number")
        return float(value)

    def items(self, name: str, check: str) -> list[Any]:
        """A list whose every item is `check`: "text", "integer", "number" or "object"."""
        value = self._field(name)
        test, expected = _ITEM_CHECKS[check]
        if not isinstance(value, list) or not all(test(item) for item in value):
            raise self._wrong(name, value, f"a list of {expected}")
        return value


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past float's range, e.g. 10**400 from a hand-edited file
        return False


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_object(value: object) -> bool:
    return isinstance(value, Mapping)


_ITEM_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "text": (_is_text, "strings"),
    "integer": (_is_integer, "whole numbers"),
    "number": (_is_number, "finite numbers"),
    "object": (_is_object, "objects"),
}
