"""A small simulation of the accordion's change events, without a browser or a server."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from lib_couple.ui import mapping_table, mask_list


def png_base64(size: tuple[int, int] = (8, 8), value: int = 255) -> str:
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class AccordionState:
    """The values the mapping events read and write; `changed` queues the change events."""

    mode: str = "Basic"
    mapping: str = field(default_factory=lambda: mapping_table.mapping_text(mapping_table.default_rows()))
    rows: list[list[Any]] = field(default_factory=mapping_table.default_rows)
    masks: str = "[]"
    changed: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any) -> None:
        # A Dataframe fires change on every new value; a textbox or radio only when it differs.
        if value is not None and (name == "rows" or getattr(self, name) != value):
            setattr(self, name, value)
            self.changed.append(name)

    def settle(self, limit: int = 20) -> int:
        """Run change events until none is pending; the number of events run."""
        count = 0
        while self.changed:
            count += 1
            assert count <= limit, "the change events do not settle"
            name = self.changed.pop(0)
            if name == "rows":
                text, _ = mapping_table.sync_from_table(self.rows, self.mode, self.mapping)
                self.set("mapping", text)
            elif name == "mapping":
                sync = mapping_table.sync_from_mapping(self.mapping, self.mode, self.rows, self.masks)
                self.set("rows", sync.rows)
                self.set("masks", sync.masks)
            elif name == "masks":
                mask_list.parse_masks(self.masks)
                if self.mode == "Mask":
                    self.set("mapping", self.masks)
            elif name == "mode":
                self.set(
                    "mapping", mapping_table.mapping_for_mode(self.mode, self.mapping, self.rows, self.masks)
                )
        return count
