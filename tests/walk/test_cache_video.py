import pytest
import torch
from PIL import Image

from lib_couple.walk.explorer import Keyframe, LatentSpaceExplorer
from lib_couple.walk.frame_cache import FrameCache, frame_key
from lib_couple.walk.video import count_frames, export_video, pad_to_even, pick_frames

PARAMS = {"steps": 8, "cfg": 5.0, "width": 32, "height": 32}


def test_revisiting_a_frame_does_not_sample():
    explorer = LatentSpaceExplorer(
        [Keyframe("red", 1), Keyframe("blue", 2)],
        lambda p: torch.full((1, 4, 8), float(len(p))),
        architecture="sd15",
    )
    cache, samples = FrameCache(capacity=8), []

    def render_current():
        key = frame_key(explorer.conditioning(), explorer.noise((1, 4, 4, 4)), PARAMS)

        def sample():
            samples.append(explorer.position)
            return Image.new("RGB", (4, 4), (len(samples), 0, 0))

        return cache.get_or_render(key, sample)

    first = render_current()
    explorer.step(1, 0.25)
    render_current()
    explorer.undo()
    assert render_current() is first
    explorer.redo()
    render_current()
    assert len(samples) == 2
    assert cache.hits == 2
    assert (
        frame_key(explorer.conditioning(), explorer.noise((1, 4, 4, 4)), {**PARAMS, "steps": 9}) not in cache
    )


def test_lru_eviction():
    cache = FrameCache(capacity=2)
    for key in "abc":
        cache.put(key, Image.new("RGB", (2, 2)))
    assert "a" not in cache
    assert len(cache) == 2
    cache.get("b")
    cache.put("d", Image.new("RGB", (2, 2)))
    assert "b" in cache
    assert "c" not in cache


def frames(n, size=(33, 17)):
    return [Image.new("RGB", size, (20 * i % 256, 255 - 20 * i % 256, 90)) for i in range(n)]


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif"])
def test_video_decodes_to_expected_frame_count(tmp_path, suffix):
    path = export_video(frames(10), tmp_path / f"walk{suffix}", fps=8, every=2)
    assert count_frames(path) == 5


def test_helpers():
    assert pad_to_even(Image.new("RGB", (33, 17))).size == (34, 18)
    assert len(pick_frames(frames(7), every=3)) == 3
    with pytest.raises(ValueError, match="unsupported"):
        export_video(frames(2), "walk.avi")
