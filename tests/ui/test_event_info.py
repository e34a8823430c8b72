"""The page's API info lists every event by number with one parameter per input, as gradio's
client looks it up (else it warns "Too many arguments provided for the endpoint" each event)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import gradio as gr

from lib_couple import app as app_module
from lib_couple.demo.model import DemoComponents
from lib_couple.ui.event_info import numbered_endpoints, with_numbered_endpoints
from tests.app_server import serving_app


def never_loaded() -> DemoComponents:
    raise AssertionError("no event here samples")


def test_every_event_is_listed_by_number_with_its_inputs() -> None:
    app = app_module.build_app(never_loaded)
    info = app.get_api_info()
    assert info is not None
    events = [d for d in app.config["dependencies"] if d["backend_fn"]]
    assert any(len(d["inputs"]) > 20 for d in events)  # the Generate events
    for dependency in events:
        listed = info["unnamed_endpoints"][str(dependency["id"])]
        assert len(listed["parameters"]) == len(dependency["inputs"])
        assert listed["show_api"] is False  # not shown by API listings
    # The named endpoints are gradio's own, unchanged.
    assert info["named_endpoints"] == gr.Blocks.get_api_info(app)["named_endpoints"]


def test_a_javascript_only_event_is_not_listed_and_a_listed_one_is_kept() -> None:
    config: dict[str, Any] = {
        "components": [{"id": 1, "type": "textbox"}, {"id": 2, "type": "slider"}],
        "dependencies": [
            {"id": 0, "inputs": [1, 2], "backend_fn": True},
            {"id": 1, "inputs": [1], "backend_fn": False},
        ],
    }
    assert list(numbered_endpoints(config)) == ["0"]
    assert [p["component"] for p in numbered_endpoints(config)["0"]["parameters"]] == ["Textbox", "Slider"]
    kept: dict[str, list[Any]] = {"parameters": [], "returns": []}
    info = with_numbered_endpoints({"named_endpoints": {}, "unnamed_endpoints": {"0": kept}}, config)
    assert info["unnamed_endpoints"]["0"] is kept


def test_the_served_page_and_info_carry_the_numbered_events() -> None:
    with serving_app(never_loaded) as url:
        page = urllib.request.urlopen(url).read().decode()
        served = json.loads(urllib.request.urlopen(url + "info").read())
        config = json.loads(urllib.request.urlopen(url + "config").read())
    embedded = re.search(r"window\.gradio_api_info = (\{.*?\});</script>", page)
    assert embedded is not None
    for info in (json.loads(embedded[1]), served):
        for dependency in config["dependencies"]:
            if dependency["backend_fn"]:
                parameters = info["unnamed_endpoints"][str(dependency["id"])]["parameters"]
                assert len(parameters) == len(dependency["inputs"])
