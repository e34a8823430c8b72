"""Every event's parameter count in the page's API info, so gradio's client stops warning.

Gradio 4.40's page submits each event by its number and looks the number up in `/info`'s
`unnamed_endpoints`, which Gradio's server never fills (gradio-app/gradio#9895). The client then
checks the event's inputs against an empty parameter list and logs "Too many arguments provided
for the endpoint." for every event that has an input: each editor edit, each Generate. No
handler of ours takes more inputs than it declares. `list_numbered_events` adds, under each
event's number, one parameter per input (hidden from API listings with `show_api: false`): the
list the client expected; the named endpoints are untouched. The page's embedded copy
(`window.gradio_api_info`) and `/info` both come from `Blocks.get_api_info`, which it wraps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr


def numbered_endpoints(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"<event number>": {"parameters": [one per input], ...}}` for every event with a Python
    function, from a Blocks config."""
    types = {component["id"]: component.get("type", "") for component in config.get("components", [])}
    endpoints: dict[str, dict[str, Any]] = {}
    for dependency in config.get("dependencies", []):
        if not dependency.get("backend_fn", True):
            continue  # a JavaScript-only event is never submitted
        inputs: Sequence[int] = dependency.get("inputs", [])
        endpoints[str(dependency["id"])] = {
            "parameters": [_parameter(types.get(i, ""), i) for i in inputs],
            "returns": [],
            "show_api": False,
        }
    return endpoints


def _parameter(component: str, component_id: int) -> dict[str, Any]:
    return {
        "label": f"parameter_{component_id}",
        "parameter_name": None,
        "parameter_has_default": True,
        "parameter_default": None,
        "component": component.capitalize(),
        "type": {},
        "python_type": {"type": "Any", "description": ""},
    }


def with_numbered_endpoints(info: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """`/info`'s answer with the numbered events added; an event already listed stays as it is."""
    unnamed = dict(numbered_endpoints(config))
    unnamed.update(info.get("unnamed_endpoints") or {})
    return {**info, "unnamed_endpoints": unnamed}


def list_numbered_events(blocks: gr.Blocks) -> None:
    """Make `blocks` list its events by number in its API info (the page's embedded copy and
    `/info` both come from `get_api_info`)."""
    listed = blocks.get_api_info

    def get_api_info(all_endpoints: bool = False) -> dict[str, Any] | None:
        info = listed(all_endpoints)
        return None if info is None else with_numbered_endpoints(info, blocks.config)

    blocks.get_api_info = get_api_info
