"""The Latent Space Explorer in Forge, through doubles of Forge's processing: each pad point
samples the mapped conditioning and slerped noise, revisits sample nothing, Stop drops the frame."""

from __future__ import annotations

import torch

from lib_couple.hosts.forge.explore_frames import ForgeExplorePad
from lib_couple.hosts.forge.walk_frames import per_prompt
from lib_couple.hosts.forge.walk_host import ForgeWalkServices
from lib_couple.walk.frame_cache import FrameCache
from lib_couple.walk.pad import PadPoint, PadState, compass_directions
from lib_couple.walk.pad_space import PadSpace
from lib_couple.walk.plan import WalkSettings
from tests.doubles.forge_walk import WalkModel, fake_forge_walk

SETTINGS = WalkSettings(64, 64, 2, 5.0, "blurry", "Euler")


def new_state() -> PadState:
    return PadState("a red apple", compass_directions(["a blue ball", "a green cube <lora:x:1>"]), 3, 4)


def test_a_pad_point_samples_its_mapped_conditioning_and_noise_once() -> None:
    with fake_forge_walk() as forge:
        state = new_state()
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), state, SETTINGS)
        state.move(1, 0, 0.5)  # east: the green cube
        state.move(0, 0, 0.5, mode="seed")
        state.move(1, 0, 0.5, mode="seed")
        assert pad.render(state.point) is not None
        expected = PadSpace(lambda prompt: WalkModel().get_learned_conditioning([prompt]))
        clean = PadState("a red apple", compass_directions(["a blue ball", "a green cube"]), 3, 4)
        [sampled] = forge.model.samples
        want = per_prompt(expected.conditioning(clean, state.point))
        assert isinstance(want, torch.Tensor)
        torch.testing.assert_close(sampled.cond, want)
        assert torch.equal(sampled.noise, expected.noise(clean, (1, 4, 8, 8), state.point))
        assert "<lora:x:1>" in sampled.prompt  # the direction prompt's LoRA is active
        assert pad.cached(state.point) is not None
        assert pad.render(state.point) is not None
        assert len(forge.model.samples) == 1  # the revisit came from the cache
        assert pad.cached(PadPoint()) is None


def test_stop_drops_the_interrupted_frame() -> None:
    with fake_forge_walk() as forge:
        state = new_state()
        pad = ForgeExplorePad(ForgeWalkServices(), FrameCache(), state, SETTINGS)
        forge.model.on_sample = lambda index: forge.shared.state.interrupt()  # Stop mid-frame
        assert pad.render(state.point) is None
        assert pad.cached(state.point) is None
        assert forge.shared.state.ended == 1
