"""The YAML file of defaults for the Forge Couple controls, which a user can override.

The shipped `defaults.yaml` sits beside this module; `--forge-couple-config PATH` (added by
preload.py) points at the user's own. Keys are CoupleParams field names; missing keys keep the
built-in defaults, unknown keys and bad values are errors that name the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lib_couple.errors import CoupleError
from lib_couple.params import ARG_NAMES, CoupleParams, params_from_args

SHIPPED_DEFAULTS = Path(__file__).resolve().parent / "defaults.yaml"
CONFIG_FLAG = "--forge-couple-config"


def load_defaults(path: Path | None = None) -> CoupleParams:
    """The controls' defaults from `path` (or the shipped file)."""
    path = path or SHIPPED_DEFAULTS
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise CoupleError(f"cannot read the Forge Couple config {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise CoupleError(f"the Forge Couple config {path} is not UTF-8 text: {error.reason}") from None
    except yaml.YAMLError as error:
        raise CoupleError(f"the Forge Couple config {path} is not valid YAML: {error}") from None
    except RecursionError:
        raise CoupleError(f"the Forge Couple config {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise CoupleError(f"the Forge Couple config {path} must be a mapping of setting: value")
    unknown = sorted(str(key) for key in set(data) - set(ARG_NAMES))
    if unknown:
        raise CoupleError(
            f"the Forge Couple config {path} has unknown keys {unknown}; known: {list(ARG_NAMES)}"
        )
    try:
        json.dumps(data, allow_nan=True)  # what the UI and the infotext hold: plain data, no cycles
    except (TypeError, ValueError, RecursionError) as error:
        raise CoupleError(
            f"the Forge Couple config {path} holds a value that is not plain data ({error})"
        ) from None
    try:
        return params_from_args([data.get(name) for name in ARG_NAMES])
    except CoupleError as error:
        raise CoupleError(f"the Forge Couple config {path}: {error}") from None
