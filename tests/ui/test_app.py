"""The standalone app, served and called through Gradio's client, on a random-weight demo model."""

from __future__ import annotations

import argparse
import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from lib_couple import app as app_module
from lib_couple.demo.model import DemoComponents, load_demo_pipeline, write_untrained_weights
from lib_couple.errors import CoupleError
from lib_couple.infotext import format_parameters, from_infotext, parse_parameters, to_infotext
from lib_couple.params import ARG_NAMES, CoupleParams, params_to_args
from lib_couple.ui import send_to
from lib_couple.ui.couple_ui import TILE_ARGS
from lib_couple.ui.page_head import javascript_files, page_head
from lib_couple.walk.video import count_frames
from tests.app_server import serving_app

# The couple arguments the page sends (txt2img has no tile controls: those are states).
PAGE_ARGS = [name for name in ARG_NAMES if name not in TILE_ARGS]


@pytest.fixture(scope="module")
def loads(tmp_path_factory: pytest.TempPathFactory) -> list[int]:
    return []


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, loads: list[int], outputs: Path) -> Iterator[Client]:
    directory = write_untrained_weights(tmp_path_factory.mktemp("weights"))

    def loader() -> DemoComponents:
        loads.append(1)
        return load_demo_pipeline(weights_dir=directory)

    with serving_app(loader, outputs) as url:
        yield Client(url, verbose=False)


def couple_args(couple: CoupleParams) -> list[Any]:
    values = dict(zip(ARG_NAMES, params_to_args(couple), strict=True))
    values["mapping"] = json.dumps(values["mapping"])  # the page's argument is JSON text
    return [values[name] for name in PAGE_ARGS]


def call(client: Client, prompt: str, couple: CoupleParams, seed: int = 3) -> tuple[Any, str]:
    gallery, parameters, _ = client.predict(
        prompt, "", 64, 64, 2, 5.0, seed, *couple_args(couple), api_name="/generate"
    )
    return gallery, parameters


def test_each_image_is_saved_as_a_png_with_its_parameters_in_forges_layout(
    client: Client, outputs: Path
) -> None:
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 0.5, 0, 1, 1], [0.5, 0.9, 0, 1, 1]])
    gallery, parameters, info = client.predict(
        "a red circle\na blue square", "", 64, 64, 2, 5.0, 41, *couple_args(couple), api_name="/generate"
    )
    day = outputs / "txt2img-images" / datetime.date.today().isoformat()
    saved = sorted(day.glob("*-41.png"))
    assert len(saved) == 1
    assert saved[0].name[:5].isdigit()
    with Image.open(saved[0]) as image:
        assert image.format == "PNG"
        assert image.info["parameters"] == parameters
    with Image.open(gallery[0]["image"]) as served:  # the gallery gets the PNG itself, not a WebP
        assert served.format == "PNG"
        assert served.info["parameters"] == parameters
    assert str(saved[0]) in info
    assert "covered by no region" in info  # the warning is shown under the image


def test_generation_writes_the_couple_keys(client: Client, loads: list[int]) -> None:
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 1.5]])
    gallery, parameters = call(client, "a red circle\na blue square", couple)
    assert len(gallery) == 1
    assert Path(gallery[0]["image"]).is_file()
    prompt, _, params = parse_parameters(parameters)
    assert prompt == "a red circle\na blue square"
    assert params["Size"] == "64x64"
    assert params["Steps"] == "2"
    assert params["forge_couple"] == "True"
    assert from_infotext(params)["mapping"] == couple.mapping
    _, plain = call(client, "a red circle", CoupleParams())
    assert "forge_couple" not in plain
    assert loads == [1]  # loaded once, lazily


def test_bad_mapping_is_a_message_and_the_page_goes_on(client: Client) -> None:
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0.5, 0.2, 0, 1, 1], [0, 1, 0, 1, 1]])
    with pytest.raises(AppError, match=r"mapping row 1: x1 = 0.5 must be smaller than x2 = 0.2"):
        call(client, "a\nb", couple)
    with pytest.raises(AppError, match="Basic mode needs at least 2 prompt lines"):
        call(client, "only one line", CoupleParams(enabled=True))
    _, parameters = call(client, "a\nb", CoupleParams(enabled=True, direction="Vertical"))
    assert "forge_couple_direction: Vertical" in parameters


def test_request_from_values() -> None:
    couple = params_to_args(CoupleParams(enabled=True))
    request = app_module.request_from_values("a\nb", "", 64.0, 128.0, 2.0, 5, 7.0, couple)
    assert (request.width, request.height, request.steps, request.seed) == (64, 128, 2, 7)
    assert request.couple.enabled
    assert 0 <= app_module.request_from_values("a", "", 64, 64, 2, 5, -1, couple).seed <= app_module.MAX_SEED
    with pytest.raises(CoupleError, match="argument mode"):
        app_module.request_from_values("a", "", 64, 64, 2, 5, 1, [True, True, "Tiles"] + couple[3:])


def test_the_page_carries_the_scripts_and_lists_only_its_generations(client: Client) -> None:
    assert "window.onUiLoaded" in client.config["head"]
    endpoints = list(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert sorted(endpoints) == ["/generate", "/img2img", "/walk"]


def test_the_latent_walk_tab_answers_a_walk(client: Client) -> None:
    frames, progress, video = client.predict(
        "a red circle\na blue circle",
        "1, 2",
        2,
        "linear",
        "slerp",
        32,
        32,
        1,
        5.0,
        "",
        4,
        ".gif",
        api_name="/walk",
    )
    assert len(frames) == 3  # two frames a transition and the last keyframe
    assert progress.startswith("3 frames; saved in")
    assert count_frames(video["video"]) == 3  # a Video output: it plays in the page
    folder = Path(progress.split("saved in ", 1)[1])  # the returned video is Gradio's copy
    assert sorted(path.name for path in folder.iterdir()) == [
        "frame_0001.png",
        "frame_0002.png",
        "frame_0003.png",
        "walk.gif",
        "walk.json",
    ]


def test_page_head_loads_every_script_after_the_forge_shims(tmp_path: Path) -> None:
    (tmp_path / "b.js").write_text("const b = '</script>';")
    (tmp_path / "a.js").write_text("const a = 1;")
    (tmp_path / "notes.txt").write_text("not a script")
    assert [path.name for path in javascript_files(tmp_path)] == ["a.js", "b.js"]
    head = page_head(tmp_path)
    assert head.count("<script") == 3
    assert head.count("</script>") == 3
    assert head.index("window.onUiLoaded") < head.index("const a = 1;") < head.index("const b")
    assert head.index("const a = 1;") < head.index("//# sourceURL=forge_couple/a.js") < head.index("const b")
    assert page_head(tmp_path / "missing").count("<script") == 1


def test_serve_command(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[str, int, Path, Path, str]] = []
    monkeypatch.setattr(
        app_module,
        "serve",
        lambda host, port, walk_output_dir, outputs_dir, model_name: served.append(
            (host, port, walk_output_dir, outputs_dir, model_name)
        ),
    )
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    app_module.add_serve_parser(commands)
    app_module.run_serve(parser.parse_args(["serve", "--port", "7999", "--outputs", "mine"]))
    app_module.run_serve(parser.parse_args(["serve", "--model", "flux-demo"]))
    walks = Path("out") / "latent-walk"
    assert served == [
        ("127.0.0.1", 7999, walks, Path("mine"), "demo"),
        ("127.0.0.1", 7860, walks, Path("outputs"), "flux-demo"),
    ]


def test_img2img_answers_with_the_couple_and_the_strength(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "input.png"
    Image.new("RGB", (64, 64), (20, 120, 220)).save(source)
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 1, 0, 0.5, 1], [0, 1, 0.5, 1, 1]])
    values = dict(zip(ARG_NAMES, params_to_args(couple), strict=True))
    values["mapping"] = json.dumps(values["mapping"])
    args = [values[name] for name in ARG_NAMES]  # img2img has the tile controls too
    gallery, parameters, _ = client.predict(
        handle_file(str(source)), 0.5, "sky\nsea", "", 64, 64, 2, 5.0, 4, *args, api_name="/img2img"
    )
    assert len(gallery) == 1
    assert Path(gallery[0]["image"]).name.endswith("-4.png")
    _, _, params = parse_parameters(parameters)
    assert params["Denoising strength"] == "0.5"
    assert from_infotext(params)["mapping"] == couple.mapping


def test_img2img_without_an_input_image_says_so(client: Client) -> None:
    args = params_to_args(CoupleParams())
    args[ARG_NAMES.index("mapping")] = json.dumps(args[ARG_NAMES.index("mapping")])
    with pytest.raises(AppError, match="needs an input image"):
        client.predict(None, 0.5, "sky", "", 64, 64, 2, 5.0, 4, *args, api_name="/img2img")


def test_send_to_img2img_carries_the_image_settings_and_mapping() -> None:
    couple = CoupleParams(enabled=True, mode="Advanced", mapping=[[0, 0.5, 0, 1, 1], [0.5, 1, 0, 1, 2]])
    text = format_parameters(
        "left\nright",
        "blurry",
        {"Steps": 7, "CFG scale": 4.5, "Seed": 11, "Size": "96x64", **to_infotext(couple)},
    )
    image = Image.new("RGB", (96, 64), (1, 2, 3))
    targets = ["enabled", "mode", "mapping", "tile_h"]
    sent = send_to.sent_to_img2img([(image, None)], text, targets)
    assert sent[0] is image
    assert sent[1:8] == ("left\nright", "blurry", 96, 64, 7, 4.5, 11)
    enabled, mode, mapping, tile_h = sent[8:]
    assert (enabled, mode) == (True, "Advanced")
    assert json.loads(str(mapping)) == couple.mapping
    assert isinstance(tile_h, dict)  # not in the parameters: left unchanged (a gr.update)
    with pytest.raises(gr.Error, match="generate an image first"):
        send_to.sent_to_img2img([], "", targets)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("Size", "99999x64", "width"),
        ("Size", "64", "Size"),
        ("Steps", "nan", "steps"),
        ("CFG scale", "inf", "CFG scale"),
        ("Seed", "1e30", "seed"),
        ("Seed", "x", "seed"),
    ],
)
def test_send_to_img2img_refuses_parameters_past_the_limits(field: str, value: str, named: str) -> None:
    settings = {"Steps": 7, "CFG scale": 4.5, "Seed": 11, "Size": "96x64", field: value}
    text = format_parameters("sky", "", settings)
    with pytest.raises(gr.Error, match=f"Send to img2img: .*{named}"):
        send_to.sent_to_img2img([], text, ["enabled"])


def test_progress_shows_per_step_and_a_cancel_stops_the_sampler(
    client: Client, outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lib_couple.demo import sampling

    steps: list[float] = []
    step = sampling.ddim_step_v

    def slow_step(*args: Any) -> Any:
        steps.append(time.monotonic())
        time.sleep(0.02)
        return step(*args)

    monkeypatch.setattr(sampling, "ddim_step_v", slow_step)
    job = client.submit("a", "", 64, 64, 150, 5.0, 77, *couple_args(CoupleParams()), api_name="/generate")
    deadline = time.monotonic() + 30
    while not job.status().progress_data and time.monotonic() < deadline:
        time.sleep(0.02)
    progress = job.status().progress_data
    assert progress
    assert progress[0].unit == "steps"
    assert progress[0].length == 150
    assert progress[0].desc.startswith("step ")
    job.cancel()
    time.sleep(0.5)
    made = len(steps)
    time.sleep(1.0)
    assert len(steps) == made < 150  # the worker stopped, within a step of the cancel
    assert not list(outputs.rglob("*-77.png"))  # and kept nothing


def test_the_words_the_demo_model_ignores_are_named_under_the_image(client: Client) -> None:
    _, _, info = client.predict(
        "a purple dog", "", 64, 64, 1, 5.0, 5, *couple_args(CoupleParams()), api_name="/generate"
    )
    assert "ignores the words it does not know: purple, dog" in info


@pytest.mark.parametrize(
    ("press", "note"), [("skip", "Skipped after 0 steps"), ("interrupt", "Interrupted after 0 steps")]
)
def test_skip_and_interrupt_keep_the_image_of_the_steps_done(press: str, note: str, tmp_path: Path) -> None:
    from lib_couple.hosts.progress import StepControl

    directory = write_untrained_weights(tmp_path / "weights")
    model = app_module.LazyModel(lambda: load_demo_pipeline(weights_dir=directory))
    control = StepControl()
    getattr(control, press)()  # pressed before the first step: no step runs
    request = app_module.request_from_values(
        "a red circle", "", 32, 32, 5, 5.0, 12, params_to_args(CoupleParams())
    )
    gallery, parameters, info = app_module._generate(model, request, control, tmp_path / "out", "txt2img")
    assert note in info
    assert control.steps_done == 0
    with Image.open(gallery[0]) as saved:
        assert saved.info["parameters"] == parameters


def test_the_page_requests_nothing_from_a_cdn(client: Client) -> None:
    import urllib.request

    page = urllib.request.urlopen(client.src).read().decode()  # the local test server
    assert "cdnjs.cloudflare.com" not in page
    assert "fonts.googleapis.com" not in page
    assert "fonts.gstatic.com" not in page
    assert "window.gradio_config" in page  # the page itself is whole
    theme = urllib.request.urlopen(client.src.rstrip("/") + "/theme.css").read().decode()
    assert "fonts.googleapis.com" not in theme


def test_the_api_names_every_parameter_after_its_control(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    generate = [p["parameter_name"] for p in endpoints["/generate"]["parameters"]]
    img2img = [p["parameter_name"] for p in endpoints["/img2img"]["parameters"]]
    assert generate == [*app_module.SETTINGS_FIELDS, *PAGE_ARGS]  # the tile states are not in the API
    assert img2img == ["init_image", "strength", *app_module.SETTINGS_FIELDS, *ARG_NAMES]
