"""Which shipped model a standalone walk renders on: the one place that tells the two apart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # the command line imports this module: the models load on first use
    from lib_couple.hosts.walk_standalone import FrameRenderer
    from lib_couple.walk.frame_cache import FrameCache
    from lib_couple.walk.plan import WalkPlan, WalkSettings

DemoModel = Literal["demo", "flux-demo"]
MODEL_CHOICES: tuple[DemoModel, ...] = get_args(DemoModel)


def check_walk_settings(model: DemoModel, settings: WalkSettings) -> None:
    """The settings within their limits on `model` (Flux: sides multiples of 16); raises CoupleError."""
    if model == "flux-demo":
        from lib_couple.hosts.flux_walk import check_flux_walk_settings

        check_flux_walk_settings(settings)
    else:
        settings.validate()


def walk_renderer(
    model: DemoModel, plan: WalkPlan, settings: WalkSettings, cache: FrameCache
) -> FrameRenderer:
    """The walk's frames by position on the named model, loaded here (after the settings are checked)."""
    check_walk_settings(model, settings)
    if model == "flux-demo":
        from lib_couple.demo.flux_model import load_flux_demo
        from lib_couple.hosts.flux_walk import flux_frame_renderer

        return flux_frame_renderer(load_flux_demo(), plan, settings, cache)
    from lib_couple.demo import load_demo_pipeline
    from lib_couple.hosts.walk_standalone import demo_explorer, render_frame

    components = load_demo_pipeline()
    explorer = demo_explorer(components, plan.keyframes(), plan.method)
    return lambda position: render_frame(components, explorer, position, settings, cache)
