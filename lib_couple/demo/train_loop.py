"""The demo trainers' joint stage: models trained together with EMA copies, for a time budget.

The UNet trainer (UNet + text encoder) and the Flux one (transformer + T5 + CLIP) run the same
loop: warm-up learning rate, one loss a step, clipped AdamW, EMA with a short warm-up, a log line
every `log_every` steps and a checkpoint every `checkpoint_seconds`. A checkpoint holds each
model under its name, each EMA copy under `ema_<name>`, the optimiser, the data generator, the
torch RNG, the step and the seconds spent, so a resumed run continues where it stopped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from lib_couple.demo.train_common import JointSettings, ema_update, linear_warmup, save_atomic


@dataclass
class JointTraining:
    """`models` (in train mode) under `names`, their EMA copies, and what a checkpoint restores."""

    label: str  # the bar's and the log's: "unet", "flux"
    names: tuple[str, ...]
    models: tuple[torch.nn.Module, ...]
    emas: tuple[torch.nn.Module, ...]
    settings: JointSettings
    checkpoint_path: Path
    parameters: list[torch.nn.Parameter] = field(init=False)
    optimiser: torch.optim.AdamW = field(init=False)
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = [p for m in self.models for p in m.parameters()]
        self.optimiser = torch.optim.AdamW(
            self.parameters, lr=self.settings.lr, betas=(0.9, 0.99), weight_decay=0.01
        )
        self.generator = torch.Generator().manual_seed(self.settings.seed)

    def resume(self) -> tuple[int, float]:
        """The step and seconds of the checkpoint, its state loaded; (0, 0.0) without one."""
        if not self.checkpoint_path.is_file():
            return 0, 0.0
        state = torch.load(self.checkpoint_path, weights_only=False)
        for name, model, ema in zip(self.names, self.models, self.emas, strict=True):
            model.load_state_dict(state[name])
            ema.load_state_dict(state["ema_" + name])
        self.optimiser.load_state_dict(state["optimiser"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step, spent = int(state["step"]), float(state["seconds"])
        print(f"{self.label}: resumed at step {step} after {spent / 60:.1f} min")
        return step, spent

    def save(self, step: int, seconds: float) -> None:
        state: dict[str, object] = {n: m.state_dict() for n, m in zip(self.names, self.models, strict=True)}
        state.update({"ema_" + n: m.state_dict() for n, m in zip(self.names, self.emas, strict=True)})
        state.update(
            optimiser=self.optimiser.state_dict(),
            generator=self.generator.get_state(),
            torch_rng=torch.get_rng_state(),
            step=step,
            seconds=seconds,
        )
        save_atomic(state, self.checkpoint_path)

    def run(
        self, loss_at: Callable[[int], torch.Tensor], step: int, spent: float, bar_seconds: float
    ) -> tuple[torch.nn.Module, ...]:
        """Steps from `step` until `settings.minutes` are spent in all; returns the EMA copies."""
        settings = self.settings
        start = time.monotonic() - spent
        last_save, running = time.monotonic(), 0.0
        progress = tqdm(desc=self.label, unit="step", initial=step, mininterval=bar_seconds, file=sys.stdout)
        while time.monotonic() - start < settings.minutes * 60.0:
            for group in self.optimiser.param_groups:
                group["lr"] = settings.lr * linear_warmup(step, settings.warmup_steps)
            loss = loss_at(step)
            self.optimiser.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
            self.optimiser.step()
            # Short EMA warm-up so early checkpoints are not dominated by the random init.
            decay = min(settings.ema_decay, (1.0 + step) / (10.0 + step))
            for ema, model in zip(self.emas, self.models, strict=True):
                ema_update(ema, model, decay)
            step += 1
            running += loss.item()
            progress.update(1)
            if step % settings.log_every == 0:
                minutes = (time.monotonic() - start) / 60
                progress.write(
                    f"{self.label} step {step} loss {running / settings.log_every:.4f} ({minutes:.1f} min)"
                )
                running = 0.0
            if time.monotonic() - last_save > settings.checkpoint_seconds:
                self.save(step, time.monotonic() - start)
                last_save = time.monotonic()
        progress.close()
        self.save(step, time.monotonic() - start)
        return self.emas


def read_emas(path: Path, names: Sequence[str], models: Sequence[torch.nn.Module]) -> tuple[int, float]:
    """Load the EMA weights of the checkpoint at `path` (its `ema_<name>`) into `models`, without
    training; the checkpoint's step and seconds."""
    state = torch.load(path, weights_only=False)
    for name, model in zip(names, models, strict=True):
        model.load_state_dict(state["ema_" + name])
    return int(state["step"]), float(state["seconds"])
