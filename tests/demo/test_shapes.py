"""The synthetic shapes data: pixels agree with captions, areas with shapes, seeds with outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib_couple.demo.shapes import (
    COLOURS,
    FILL_RATIO,
    PALETTE,
    SHAPES,
    VOCABULARY,
    Box,
    Colour,
    Scene,
    Shape,
    ShapeObject,
    caption,
    make_batch,
    parse_caption,
    random_scene,
    render,
    shape_mask,
    strip_bounds,
    strip_scene,
)
from lib_couple.demo.tokenizer import CONTEXT_LENGTH, build_tokenizer

colours = st.sampled_from(COLOURS)
shapes = st.sampled_from(SHAPES)
seeds = st.integers(min_value=0, max_value=2**32 - 1)

TOKENIZER = build_tokenizer()


@given(shape=shapes, half=st.floats(0.15, 0.45), cx=st.floats(0.45, 0.55), cy=st.floats(0.45, 0.55))
def test_shape_fills_its_expected_share_of_its_box(shape: Shape, half: float, cx: float, cy: float) -> None:
    size = 128
    mask = shape_mask(shape, Box(cx, cy, half), size)
    box_pixels = (2 * half * size) ** 2
    assert mask.sum() / box_pixels == pytest.approx(FILL_RATIO[shape], abs=0.06)


def test_shapes_have_distinct_areas_in_the_same_box() -> None:
    box = Box(0.5, 0.5, 0.3)
    areas = {shape: int(shape_mask(shape, box, 64).sum()) for shape in SHAPES}
    assert areas["triangle"] < areas["circle"] < areas["square"]


def test_triangle_points_up() -> None:
    mask = shape_mask("triangle", Box(0.5, 0.5, 0.4), 100)
    rows = mask.sum(axis=1)
    filled = rows[rows > 0]
    assert filled[0] < filled[-1]


@given(seed=seeds)
@settings(max_examples=60)
def test_rendered_colours_are_where_the_caption_says(seed: int) -> None:
    scene = random_scene(np.random.default_rng(seed))
    size = 64
    image = render(scene, size)
    objects, background = parse_caption(caption(scene))
    # The corner pixel is background in every layout: objects keep a margin.
    assert np.allclose(image[0, 0], PALETTE[scene.background])
    if background is not None:
        assert background == scene.background
    assert len(objects) in (0, 1, len(scene.objects))
    for obj in scene.objects:
        # The box centre lies inside every shape (for the triangle, halfway down its height).
        x = min(int(obj.box.cx * size), size - 1)
        y = min(int(obj.box.cy * size), size - 1)
        assert np.allclose(image[y, x], PALETTE[obj.colour])
    for (named_colour, named_shape), obj in zip(objects, scene.objects, strict=False):
        assert named_colour in (None, obj.colour)
        assert named_shape in (None, obj.shape)
        assert (named_colour, named_shape) != (None, None)


@given(seed=seeds)
@settings(max_examples=60)
def test_objects_stay_inside_the_image_and_apart(seed: int) -> None:
    scene = random_scene(np.random.default_rng(seed))
    for obj in scene.objects:
        assert 0.0 <= obj.box.x0 < obj.box.x1 <= 1.0
        assert 0.0 <= obj.box.y0 < obj.box.y1 <= 1.0
        assert obj.colour != scene.background
    if len(scene.objects) == 2:
        first, second = (o.box for o in scene.objects)
        # Side by side or stacked: the first named object is left of, or above, the second.
        assert first.x1 <= second.x0 or first.y1 <= second.y0
        assert scene.objects[0].colour != scene.objects[1].colour


@given(seed=seeds)
@settings(max_examples=20)
def test_same_seed_same_batch(seed: int) -> None:
    images_a, captions_a = make_batch(seed, 4, 32)
    images_b, captions_b = make_batch(seed, 4, 32)
    assert captions_a == captions_b
    assert np.array_equal(images_a, images_b)
    assert images_a.shape == (4, 3, 32, 32)
    assert images_a.min() >= -1.0
    assert images_a.max() <= 1.0


def test_different_seeds_differ() -> None:
    images_a, captions_a = make_batch(1, 8, 32)
    images_b, captions_b = make_batch(2, 8, 32)
    assert captions_a != captions_b or not np.array_equal(images_a, images_b)


def test_generator_covers_vocabulary_and_layouts() -> None:
    _, captions = make_batch(0, 400, 8)
    words = {word for text in captions for word in text.split()}
    assert words == set(VOCABULARY)
    assert any(" and " in text for text in captions)
    assert any(text.endswith("shape") for text in captions)


@given(colour=colours, shape=shapes, background=colours, second_colour=colours, second_shape=shapes)
def test_caption_grammar_round_trips(
    colour: Colour, shape: Shape, background: Colour, second_colour: Colour, second_shape: Shape
) -> None:
    box = Box(0.5, 0.5, 0.2)
    pair = (ShapeObject(colour, shape, box), ShapeObject(second_colour, second_shape, box))
    for scene in (
        Scene(background, pair[:1], "full"),
        Scene(background, pair, "full"),
        Scene(background, pair, "object"),
    ):
        text = caption(scene)
        objects, named_background = parse_caption(text)
        assert objects == [(o.colour, o.shape) for o in scene.objects]
        assert named_background == (background if scene.mention == "full" else None)
        ids = TOKENIZER(text).input_ids
        assert TOKENIZER.unk_token_id not in ids
        assert ids[0] == TOKENIZER.bos_token_id
        assert ids[-1] == TOKENIZER.eos_token_id
        assert TOKENIZER.decode(ids, skip_special_tokens=True) == text


def test_tokenizer_pads_to_context_length_with_eos() -> None:
    ids = TOKENIZER(
        ["a red circle", ""], padding="max_length", max_length=CONTEXT_LENGTH, return_tensors="pt"
    ).input_ids
    assert tuple(ids.shape) == (2, CONTEXT_LENGTH)
    assert ids[0, :5].tolist() == [
        TOKENIZER.bos_token_id,
        *TOKENIZER.convert_tokens_to_ids(["a", "red", "circle"]),
        TOKENIZER.eos_token_id,
    ]
    assert (ids[0, 5:] == TOKENIZER.eos_token_id).all()
    assert ids[1, 0] == TOKENIZER.bos_token_id
    assert (ids[1, 1:] == TOKENIZER.eos_token_id).all()


def test_unknown_words_map_to_unk() -> None:
    ids = TOKENIZER("a purple circle").input_ids
    assert TOKENIZER.unk_token_id in ids


@given(seed=seeds, regions=st.integers(2, 3), columns=st.booleans())
def test_strip_scenes_keep_each_object_in_its_strip(seed: int, regions: int, columns: bool) -> None:
    scene, captions = strip_scene(np.random.default_rng(seed), regions, columns)
    assert len(scene.objects) == len(captions) == regions
    assert len({obj.colour for obj in scene.objects} | {scene.background}) == regions + 1
    for index, (obj, line) in enumerate(zip(scene.objects, captions, strict=True)):
        x0, x1, y0, y1 = strip_bounds(index, regions, columns)
        box = obj.box
        assert x0 <= box.x0 < box.x1 <= x1
        assert y0 <= box.y0 < box.y1 <= y1
        objects, background = parse_caption(line)
        assert objects == [(obj.colour, obj.shape)]
        assert background in (None, scene.background)
