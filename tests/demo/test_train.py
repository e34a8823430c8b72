"""The training script: resumable from its checkpoint, fine-tuning keeps the VAE's latent scale."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

from lib_couple.demo.model import (
    UNET_FILE,
    VAE_FILE,
    load_demo_pipeline,
    read_latent_normalisation,
    write_untrained_weights,
)
from lib_couple.demo.train import main
from lib_couple.demo.train_common import LatentSet, cosine_lr, linear_warmup, plain_batch
from lib_couple.demo.train_config import TrainConfig

TINY = ["--low-res-count", "8", "--high-res-count", "8", "--threads", "1"]


def checkpoint_step(work_dir: Path) -> int:
    return int(torch.load(work_dir / "unet_checkpoint.pt", weights_only=False)["step"])


@given(st.integers(0, 10_000), st.integers(1, 1_000))
def test_warmup_rises_to_one_and_stays(step: int, warmup: int) -> None:
    factor = linear_warmup(step, warmup)
    assert 0.0 < factor <= 1.0
    assert factor <= linear_warmup(step + 1, warmup)
    assert (factor == 1.0) == (step + 1 >= warmup)


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_cosine_decays_from_base_to_floor(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert cosine_lr(1.0, low) >= cosine_lr(1.0, high)
    assert cosine_lr(1.0, 0.0) == pytest.approx(1.0)
    assert cosine_lr(1.0, 1.0) == pytest.approx(0.05)


@given(step=st.integers(0, 50), every=st.integers(1, 5), dropout=st.sampled_from([0.0, 1.0]))
def test_plain_batches_take_their_size_from_the_step_and_drop_captions(
    step: int, every: int, dropout: float
) -> None:
    low = LatentSet(torch.zeros(5, 4, 16, 16), torch.full((5, 77), 3))
    high = LatentSet(torch.ones(5, 4, 32, 32), torch.full((5, 77), 4))
    config = TrainConfig(Path("out"), Path("work"), 1.0, 1.0, False, batch=3, high_res_batch=2)
    config = dataclasses.replace(config, high_res_every=every, caption_dropout=dropout)
    generator = torch.Generator().manual_seed(step)
    latents, ids = plain_batch(config, step, (low, high), generator, torch.full((77,), 9))
    high_res = (step + 1) % every == 0
    assert latents.shape == ((2, 4, 32, 32) if high_res else (3, 4, 16, 16))
    assert bool((ids == (9 if dropout else 4 if high_res else 3)).all())
    assert bool((low.ids == 3).all())  # the sets keep their captions
    assert bool((high.ids == 4).all())


def test_a_resumed_run_continues_from_the_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    common = ["--out", str(out), "--work-dir", str(work), "--vae-minutes", "0.01", *TINY]
    main([*common, "--minutes", "0.02"])
    first = checkpoint_step(work)
    assert first > 0
    main([*common, "--minutes", "0.04", "--resume"])
    printed = capsys.readouterr().out
    assert f"unet: resumed at step {first}" in printed
    assert "latents: reusing encoded data set" in printed
    assert checkpoint_step(work) > first
    load_demo_pipeline(weights_dir=out)  # the exported weights load as the shipped ones do


def test_regional_fine_tuning_keeps_the_vae_and_moves_the_unet(tmp_path: Path) -> None:
    base = write_untrained_weights(tmp_path / "base", seed=3)
    out = tmp_path / "out"
    main(
        [
            "--out",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
            "--init-from",
            str(base),
            "--high-res-every",
            "1",
            "--regional-every",
            "2",
            "--regional-count",
            "4",
            "--minutes",
            "0.02",
            *TINY,
        ]
    )
    assert read_latent_normalisation(out / VAE_FILE) == read_latent_normalisation(base / VAE_FILE)
    kept, given_vae = load_file(str(out / VAE_FILE)), load_file(str(base / VAE_FILE))
    assert kept.keys() == given_vae.keys()
    assert all(torch.equal(kept[name], given_vae[name]) for name in kept)
    tuned, original = load_demo_pipeline(weights_dir=out), load_demo_pipeline(weights_dir=base)
    moved = [
        not torch.equal(a, b)
        for a, b in zip(tuned.unet.parameters(), original.unet.parameters(), strict=True)
    ]
    assert any(moved)
    assert (out / UNET_FILE).stat().st_size == (base / UNET_FILE).stat().st_size


def test_bad_high_res_every_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--high-res-every", "0"])
    assert exit_info.value.code == 2
