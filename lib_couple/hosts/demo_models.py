"""Which shipped model a standalone host runs on (walk, web app): the one place that tells the two apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:  # the command line imports this module: the models load on first use
    from lib_couple.hosts.progress import RunningControls, StepControl
    from lib_couple.hosts.standalone import GenerationRequest, GenerationResult
    from lib_couple.hosts.walk_standalone import FrameRenderer
    from lib_couple.ui.explore_pad import ExploreOpener
    from lib_couple.ui.walk_pad import PadOpener
    from lib_couple.ui.walk_tab import WalkRenderer
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


@dataclass(frozen=True)
class AppParts:
    """What the web app runs on one shipped model: its loader, its checks and generation, its walk."""

    load: Callable[[], Any]
    check: Callable[[GenerationRequest], None]  # before the model is loaded; raises CoupleError
    generate: Callable[[Any, GenerationRequest, StepControl], GenerationResult]
    walk_frames: Callable[[Callable[[], Any], FrameCache, RunningControls], WalkRenderer]
    open_pad: Callable[[Callable[[], Any], FrameCache], PadOpener] | None = None
    open_explorer: Callable[[Callable[[], Any], FrameCache], ExploreOpener] | None = None


def _check_regions(request: GenerationRequest) -> None:
    request.regions()


def app_parts(model: DemoModel, loader: Callable[[], Any] | None = None) -> AppParts:
    """The app's parts on `model`; `loader` replaces the shipped weights' loader (tests)."""
    if model == "flux-demo":
        from lib_couple.demo.flux_model import load_flux_demo
        from lib_couple.hosts.flux_standalone import check_flux_request, generate_flux
        from lib_couple.hosts.flux_walk import flux_walk_frames

        return AppParts(
            loader or load_flux_demo,
            check_flux_request,
            lambda demo, request, control: generate_flux(demo, request, progress=False, control=control),
            flux_walk_frames,  # the Explore pads are the UNet demo's only, for now
        )
    from lib_couple.demo import load_demo_pipeline
    from lib_couple.hosts.standalone import generate
    from lib_couple.hosts.walk_standalone import demo_explore_pad, demo_walk_frames, demo_walk_pad

    return AppParts(
        loader or load_demo_pipeline,
        _check_regions,
        lambda components, request, control: generate(components, request, progress=False, control=control),
        demo_walk_frames,
        demo_walk_pad,
        demo_explore_pad,
    )
