"""Reading the hosts' own code from fetched snapshots (never copied here), with stand-in modules."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

MIRRORS = Path("/work/.mirror")
FORGE = MIRRORS / "lllyasviel+stable-diffusion-webui-forge/repo"
NEO = MIRRORS / "exo101+sd-webui-forge-neo-v3/repo"


def host_source(repo: Path, path: str) -> str:
    """`path` as the snapshot's HEAD has it; skips the test where the snapshot or the file is absent."""
    if not repo.exists():
        pytest.skip(f"{repo.parent.name} snapshot not fetched")
    shown = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"{path} not in the snapshot")
    return shown.stdout


@contextmanager
def modules_in_place(modules: Mapping[str, types.ModuleType]) -> Iterator[None]:
    """`sys.modules` holds `modules` inside the block; whatever stood under those names comes back after."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
