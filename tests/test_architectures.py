"""The one table of architectures: detection on both hosts, and the README's table of it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lib_couple.hosts.forge.architectures import ARCHITECTURES, Architecture, architecture_of

README = Path(__file__).resolve().parents[1] / "README.md"
WALK = {"sd15": "SD1.5", "sdxl": "SDXL", "flux": "Flux"}
REGIONS = {
    "unet-cross": "UNet cross-attention",
    "dit-joint": "joint attention",
    "dit-cross": "block cross-attention",
}


def readme_row(row: Architecture) -> str:
    regions = REGIONS[row.regions] if row.regions else "no (normal image, with a message)"
    walk = f"yes ({WALK[row.walk]} conditioning)" if row.walk else "no (refused with a message)"
    return f"| {row.name} | {regions} | {walk} |"


def test_the_readme_lists_every_architecture_as_the_table_does() -> None:
    text = README.read_text(encoding="utf-8")
    for row in ARCHITECTURES:
        assert readme_row(row) in text, f"README lacks: {readme_row(row)}"


def _neo_model(repo: str, **flags: bool) -> SimpleNamespace:
    return SimpleNamespace(model_config=SimpleNamespace(huggingface_repo=repo), **flags)


@pytest.mark.parametrize(
    ("repo", "flags", "name"),
    [
        ("CabalResearch/Mugen", {"is_sdxl": True}, "Mugen"),
        ("circlestone-labs/Anima", {"is_wan": True}, "Anima"),  # Neo sets is_wan on Anima too
        ("Qwen/Qwen-Image", {"is_wan": True}, "Qwen-Image"),
        ("Wan-AI/Wan2.2-T2V-A14B", {"is_wan": True}, "Wan"),
        ("baidu/ERNIE-Image", {}, "ERNIE-Image"),
        ("nvidia/PiD", {}, "PiD"),
        ("black-forest-labs/FLUX.1-dev", {}, "Flux"),
    ],
)
def test_neo_models_are_known_by_their_repo(repo: str, flags: dict[str, bool], name: str) -> None:
    row = architecture_of(_neo_model(repo, **flags))
    assert row is not None
    assert row.name == name


def test_a_model_with_only_neo_is_wan_is_not_taken_for_wan() -> None:
    assert architecture_of(SimpleNamespace(is_wan=True)) is None


def test_mugen_gets_regions_and_walk_as_sdxl() -> None:
    row = architecture_of(type("Mugen", (), {"is_sdxl": True})())
    assert row is not None
    assert (row.regions, row.patcher, row.walk) == ("unet-cross", "unet", "sdxl")
