"""The explorer's background frames stop inside the demo UNet: a real txt2img that cancels one
waits for the UNet block in progress, not the whole step, its image is unchanged, and the
stopped frame is dropped, never cached. The checks are on for that sampling and that thread
only."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lib_couple.demo import DemoComponents, encode_prompts, load_demo_pipeline, sample
from lib_couple.demo.block_stop import SamplingStopped, inner_blocks, stop_checked
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.hosts.walk_standalone import DemoExplorePad
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadState, compass_directions
from lib_couple.walk.plan import WalkSettings
from lib_couple.walk.render_ahead import likely_next

SAFETY_SECONDS = 60.0  # only ends a hung test; the order is decided by events
STEPS = 3
REQUEST = GenerationRequest("a red circle", width=32, height=32, steps=STEPS, seed=3)


@pytest.fixture(scope="module")
def model() -> DemoComponents:
    return load_demo_pipeline()


def unet_inputs(model: DemoComponents) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    context = encode_prompts(model, ["a red circle", ""])
    return torch.randn(2, 4, 4, 4, generator=torch.Generator().manual_seed(0)), torch.tensor(500), context


def run_unet(model: DemoComponents) -> torch.Tensor:
    latents, timestep, context = unet_inputs(model)
    with torch.no_grad():
        out: torch.Tensor = model.unet(latents, timestep, encoder_hidden_states=context).sample
    return out


def test_the_checks_stop_only_their_own_thread_and_are_gone_afterwards(model: DemoComponents) -> None:
    plain = run_unet(model)
    elsewhere: list[torch.Tensor] = []
    with stop_checked(model.unet, lambda: True):
        with pytest.raises(SamplingStopped):
            run_unet(model)
        other = threading.Thread(target=lambda: elsewhere.append(run_unet(model)))
        other.start()
        other.join(SAFETY_SECONDS)
    assert torch.equal(elsewhere[0], plain)  # another thread's call ran as without checks
    assert torch.equal(run_unet(model), plain)
    assert all(not part._forward_pre_hooks for part in inner_blocks(model.unet))


def test_there_is_a_check_before_every_resnet_and_attention(model: DemoComponents) -> None:
    parts = inner_blocks(model.unet)
    kinds = {type(part).__name__ for part in parts}
    assert {"ResnetBlock2D", "Transformer2DModel", "Downsample2D", "Upsample2D"} <= kinds
    assert len(parts) == len({id(part) for part in parts}) >= 20


def sampled(
    model: DemoComponents,
    on_step: Callable[[int, int], bool] | None = None,
    stop_within_step: Callable[[], bool] | None = None,
) -> torch.Tensor:
    cond = encode_prompts(model, ["a red circle"])
    uncond = encode_prompts(model, [""])
    return sample(
        model,
        cond,
        uncond,
        height=32,
        width=32,
        steps=STEPS,
        cfg=5.0,
        seed=3,
        progress=False,
        on_step=on_step,
        stop_within_step=stop_within_step,
    )


@settings(deadline=None, max_examples=15)
@given(checks=st.integers(0, 3 * STEPS * 22))
def test_a_stop_inside_a_step_gives_the_latents_of_the_steps_done(model: DemoComponents, checks: int) -> None:
    per_step = len(inner_blocks(model.unet))
    asked = [0]

    def stop() -> bool:
        asked[0] += 1
        return asked[0] > checks

    stopped = sampled(model, stop_within_step=stop)
    done = min(checks // per_step, STEPS)
    assert torch.equal(stopped, sampled(model, on_step=lambda step, total: step >= done))


def test_a_check_that_never_stops_changes_nothing(model: DemoComponents) -> None:
    assert torch.equal(sampled(model, stop_within_step=lambda: False), sampled(model))


def test_a_txt2img_stops_a_background_frame_within_its_unet_call_and_is_unchanged(
    model: DemoComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = generate(model, REQUEST, progress=False).image
    pad = DemoExplorePad(
        model,
        FrameCache(),
        PadState("a red circle", compass_directions(["at night"])),
        WalkSettings(32, 32, 4),
    )
    background_done: list[int] = []  # UNet calls the background frame finished
    real: list[threading.Thread] = []
    images: list[Image.Image] = []
    cancel = pad.ahead.cancel
    cancelled = threading.Event()

    def traced_cancel() -> None:
        cancel()
        if real:  # the txt2img's cancel, not the plan's own
            cancelled.set()

    def in_background() -> bool:  # the pre-render's thread: neither this one nor the txt2img's
        current = threading.current_thread()
        return current is not threading.main_thread() and current not in real

    def txt2img_arrives(*_: object) -> None:  # before the second UNet call's middle blocks
        if in_background() and len(background_done) == 1 and not real:
            real.append(
                threading.Thread(target=lambda: images.append(generate(model, REQUEST, progress=False).image))
            )
            real[0].start()
            assert cancelled.wait(SAFETY_SECONDS)

    def finished(*_: object) -> None:
        if in_background():
            background_done.append(1)

    hooks = [
        model.unet.down_blocks[1].register_forward_pre_hook(txt2img_arrives),
        model.unet.register_forward_hook(finished),
    ]
    monkeypatch.setattr(pad.ahead, "cancel", traced_cancel)
    try:
        thread = pad.look_ahead(likely_next(pad.state, 0.5, False, "prompt"))
        assert thread is not None
        thread.join(SAFETY_SECONDS)
        real[0].join(SAFETY_SECONDS)
    finally:
        for hook in hooks:
            hook.remove()
    assert background_done == [1]  # the second call stopped inside, its up blocks never ran
    assert len(pad.cache) == 0  # the stopped frame is dropped
    assert pad.ahead.written == 0
    [image] = images
    assert image.tobytes() == alone.tobytes()
    assert all(not part._forward_pre_hooks for part in inner_blocks(model.unet))
