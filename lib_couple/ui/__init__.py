"""Gradio builders of the Forge Couple accordion, shared by the Forge script and the standalone app.

Modules: `couple_ui` (the accordion), `region_panels` (Advanced and Mask panels and the mapping
sync), `mapping_table` and `mask_list` (pure handlers), `infotext_fields` (paste and Send-to),
`page_head` (the standalone page's scripts). Nothing here imports Forge.
"""

from lib_couple.ui.couple_ui import CoupleUI, build_couple_ui

__all__ = ["CoupleUI", "build_couple_ui"]
