"""Named Advanced mappings, saved and loaded through the backend (a JSON file), and their controls.

The file is `presets.json` in the extension's folder (git ignores it, so updates keep it), or
the path in `FORGE_COUPLE_PRESETS`. Loading a preset writes the mapping argument's textbox, which
the region editor follows, so a loaded preset is what the next Generate uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from lib_couple.errors import CoupleError
from lib_couple.files import file_lock, write_atomically
from lib_couple.params import parse_mapping_value
from lib_couple.regions import parse_mapping
from lib_couple.ui.mapping_table import mapping_text

PRESETS_ENV = "FORGE_COUPLE_PRESETS"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "presets.json"
MAX_NAME = 64
Rows = list[list[float]]


def presets_path() -> Path:
    return Path(os.environ.get(PRESETS_ENV) or DEFAULT_PATH)


class PresetStore:
    """Presets in one JSON object `{name: rows}`; every write replaces the file whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Rows]:
        """Every preset; a file that is not `{name: rows}` with valid rows is refused whole."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CoupleError(
                f"the presets file {self.path} cannot be read ({error}); fix or delete it"
            ) from None
        if not isinstance(data, dict):
            raise CoupleError(f"the presets file {self.path} is not a JSON object; fix or delete it")
        presets: dict[str, Rows] = {}
        for name, rows in data.items():
            try:
                presets[name] = _rows(rows)
            except CoupleError as error:
                raise CoupleError(
                    f"the presets file {self.path}: preset {name!r:.80}: {error}; fix or delete it"
                ) from None
        return presets

    def names(self) -> list[str]:
        return sorted(self.load(), key=str.casefold)

    def _existing(self, name: str | None) -> tuple[dict[str, Rows], str]:
        presets = self.load()
        if not name or name not in presets:
            raise CoupleError(f"there is no preset {name!r}; choose one from the list")
        return presets, name

    def get(self, name: str | None) -> Rows:
        presets, found = self._existing(name)
        return presets[found]

    def save(self, name: str | None, mapping: object) -> str:
        """Store `mapping` (rows or their JSON) under `name`; returns the cleaned name."""
        cleaned = (name or "").strip()
        if not cleaned:
            raise CoupleError("give the preset a name")
        if len(cleaned) > MAX_NAME:
            raise CoupleError(f"a preset name has at most {MAX_NAME} characters")
        rows = _rows(parse_mapping_value(mapping))
        with file_lock(self.path):
            presets = self.load()
            presets[cleaned] = rows
            write_atomically(self.path, json.dumps(presets, indent=1, sort_keys=True))
        return cleaned

    def delete(self, name: str | None) -> None:
        with file_lock(self.path):
            presets, found = self._existing(name)
            del presets[found]
            write_atomically(self.path, json.dumps(presets, indent=1, sort_keys=True))


def _rows(mapping: object) -> Rows:
    """A preset's rows, validated as an Advanced mapping."""
    return [list(asdict(row).values()) for row in parse_mapping(mapping)]


@dataclass(frozen=True)
class PresetControls:
    choice: gr.Dropdown
    name: gr.Textbox
    save: gr.Button
    load: gr.Button
    delete: gr.Button
    status: gr.Markdown


def build_preset_controls(store: PresetStore) -> PresetControls:
    try:
        names = store.names()
    except CoupleError:
        names = []  # the status line says why when the user acts
    with gr.Row():
        choice = gr.Dropdown(names, value=None, label="Preset", scale=2)
        name = gr.Textbox(label="Save as", placeholder="a name", scale=2)
    with gr.Row():
        save = gr.Button("Save preset", size="sm")
        load = gr.Button("Load preset", size="sm")
        delete = gr.Button("Delete preset", size="sm")
    status = gr.Markdown("", elem_classes=["fc_status"])
    return PresetControls(choice, name, save, load, delete, status)


class PresetActions:
    """The buttons' handlers over one store: (control update, status line), errors as status."""

    def __init__(self, store: PresetStore) -> None:
        self.store = store

    def on_save(self, name: str | None, mapping: str) -> tuple[Any, str]:
        try:
            saved = self.store.save(name, mapping)
            return gr.update(choices=self.store.names(), value=saved), f"Saved preset **{saved}**."
        except CoupleError as error:
            return gr.update(), f"⚠️ {error}"

    def on_load(self, name: str | None) -> tuple[Any, str]:
        try:
            rows = self.store.get(name)
            return mapping_text(rows), f"Loaded preset **{name}** ({len(rows)} regions)."
        except CoupleError as error:
            return gr.update(), f"⚠️ {error}"

    def on_delete(self, name: str | None) -> tuple[Any, str]:
        try:
            self.store.delete(name)
            return gr.update(choices=self.store.names(), value=None), f"Deleted preset **{name}**."
        except CoupleError as error:
            return gr.update(), f"⚠️ {error}"


def wire_presets(
    controls: PresetControls, store: PresetStore, mapping: gr.Textbox, quiet: dict[str, Any]
) -> None:
    """Save reads the mapping argument; Load writes it (the editor and the table follow it)."""
    actions = PresetActions(store)
    controls.save.click(
        actions.on_save, [controls.name, mapping], [controls.choice, controls.status], **quiet
    )
    controls.load.click(actions.on_load, controls.choice, [mapping, controls.status], **quiet)
    controls.delete.click(actions.on_delete, controls.choice, [controls.choice, controls.status], **quiet)
