"""The host's folder for the pictures gradio serves, made if it is missing.

Neo's default `opts.temp_dir` is `<webui>/tmp`, which only its launch scripts create; launched as
`python launch.py`, its gradio hook writes every picture not saved as an output there without
making the folder, so the explorer's pad and the mask gallery failed with `FileNotFoundError`
(docs/REAL_HOSTS.md). lllyasviel Forge leaves the option empty (gradio's own cache folder, which
gradio makes), and then nothing is done.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("forge_couple")


def ensure_temp_folder() -> Path | None:
    """Make the host's temp folder if it names one; None when it names none or it cannot be
    made (logged: the UI must still build)."""
    from modules import shared

    folder = getattr(shared.opts, "temp_dir", "")
    if not isinstance(folder, str) or not folder:
        return None
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.warning("Forge Couple: the host's temp folder %s could not be made (%s)", path, error)
        return None
    return path
