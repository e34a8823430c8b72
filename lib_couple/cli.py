"""Command line: `python -m lib_couple generate ...` writes an image and prints its parameters."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from lib_couple import limits
from lib_couple.app import add_serve_parser, run_serve
from lib_couple.attention.joint_attention import BLOCK_CHOICES, IMAGE_ATTENTION
from lib_couple.errors import CoupleError
from lib_couple.hosts.demo_models import MODEL_CHOICES
from lib_couple.hosts.threads import add_threads_argument, apply_threads
from lib_couple.log import setup_logging
from lib_couple.params import CoupleParams, params_from_args
from lib_couple.walk.easing import EASINGS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lib_couple", description="Forge Couple: regional prompting.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    gen = commands.add_parser(
        "generate", help="generate one image with regional prompts", formatter_class=defaults
    )
    gen.add_argument("--prompt", required=True, help=r"region lines, separated by newlines or a literal \n")
    gen.add_argument(
        "--negative",
        default="",
        help=r"negative prompt (with --region-negatives: a line per region, as --prompt)",
    )
    gen.add_argument("--mode", choices=("basic", "advanced", "mask"), default="basic")
    gen.add_argument("--direction", choices=("horizontal", "vertical"), default="horizontal")
    gen.add_argument("--mapping", help="Advanced rows as JSON: [[x1, x2, y1, y2, weight], ...]")
    gen.add_argument(
        "--masks", nargs="+", type=Path, default=[], help="Mask mode: one grayscale image per line"
    )
    gen.add_argument("--mask-weights", nargs="+", type=float, default=[], help="Mask mode: a weight per mask")
    gen.add_argument("--background", choices=("first", "last", "none"), default="none", help="global line")
    gen.add_argument("--background-weight", type=float, default=0.5, help="weight of the global line")
    gen.add_argument("--separator", default="", help=r"region separator (default: newline; \n allowed)")
    gen.add_argument("--strict", action="store_true", help="refuse pixels that no region covers")
    gen.add_argument(
        "--region-negatives", action="store_true", help="each --negative line is its region's negative prompt"
    )
    gen.add_argument("--no-couple", action="store_true", help="plain generation with the same prompt")
    gen.add_argument("--width", type=_positive_int, default=256, help="a multiple of 8")
    gen.add_argument("--height", type=_positive_int, default=256, help="a multiple of 8")
    gen.add_argument("--steps", type=_positive_int, default=20, help="sampling steps")
    gen.add_argument("--cfg", type=float, default=5.0, help="CFG scale")
    gen.add_argument("--seed", type=int, default=1, help="noise seed")
    gen.add_argument("--out", type=Path, default=Path("out.png"), help="the PNG, with its parameters")
    gen.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="demo",
        help="the shipped model: the UNet demo or the Flux-shaped one (sides multiples of 16, txt2img only)",
    )
    _add_flux_flags(gen)
    gen.add_argument(
        "--checkpoint", type=Path, help="an SD1.5 or SDXL .safetensors file instead of the demo model"
    )
    gen.add_argument(
        "--config", type=Path, help="with --checkpoint: folder of the base model's diffusers configs"
    )
    add_threads_argument(gen)
    add_serve_parser(commands)
    walk = commands.add_parser(
        "walk",
        help="a latent walk between prompts and seeds, as a video (on a shipped demo model)",
        formatter_class=defaults,
    )
    walk.add_argument("--keyframes", nargs="+", required=True, help="two or more prompts")
    walk.add_argument("--seeds", nargs="+", type=int, default=[], help="a seed per keyframe (default: all 1)")
    walk.add_argument(
        "--frames",
        type=_positive_int,
        default=8,
        help="frames per transition, from one keyframe up to the next; the video has "
        "(keyframes - 1) x frames + 1 frames, the last keyframe included",
    )
    walk.add_argument("--easing", default="linear", help=f"one of {', '.join(sorted(EASINGS))}")
    walk.add_argument("--method", choices=("slerp", "lerp"), default="slerp", help="interpolation")
    walk.add_argument("--width", type=_positive_int, default=256, help="a multiple of 8")
    walk.add_argument("--height", type=_positive_int, default=256, help="a multiple of 8")
    walk.add_argument("--steps", type=_positive_int, default=20, help="sampling steps per frame")
    walk.add_argument("--cfg", type=float, default=5.0, help="CFG scale")
    walk.add_argument("--negative", default="", help="negative prompt")
    walk.add_argument("--fps", type=float, default=8.0, help="video frames per second")
    walk.add_argument(
        "--out",
        type=Path,
        default=Path("walk.mp4"),
        help=".mp4, .webm or .gif; the walk's record goes beside it as <name>.json (walk.mp4.json)",
    )
    walk.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="demo",
        help="the shipped model: the UNet demo or the Flux-shaped one (sides multiples of 16)",
    )
    add_threads_argument(walk)
    return parser


def _add_flux_flags(gen: argparse.ArgumentParser) -> None:
    """The joint-attention controls (API arguments 19-26, docs/FLUX.md); read by --model flux-demo."""
    d = CoupleParams()
    flux = gen.add_argument_group("Flux (read by --model flux-demo; docs/FLUX.md)")
    flux.add_argument("--flux-blocks", choices=BLOCK_CHOICES, default=d.flux_blocks, help="masked blocks")
    flux.add_argument("--flux-block-start", type=int, default=d.flux_block_start, help="range: first block")
    flux.add_argument("--flux-block-stop", type=int, default=d.flux_block_stop, help="range: stop (excluded)")
    flux.add_argument("--flux-steps", type=float, default=d.flux_steps, help="share of steps with regions")
    flux.add_argument(
        "--flux-base-ratio", type=float, default=d.flux_base_ratio, help="blend with the unmasked attention"
    )
    flux.add_argument(
        "--flux-image-attention", choices=IMAGE_ATTENTION, default=d.flux_image_attention, help="image tokens"
    )
    flux.add_argument("--flux-global-everywhere", action="store_true", help="the whole prompt everywhere")
    flux.add_argument(
        "--flux-region-padding", type=int, default=d.flux_region_padding, help="T5 pads kept per region line"
    )


def _flux_args(args: argparse.Namespace) -> list[object]:
    """API arguments 19-26."""
    names = ("blocks", "block_start", "block_stop", "steps", "base_ratio", "image_attention")
    values: list[object] = [getattr(args, f"flux_{name}") for name in names]
    return [*values, args.flux_global_everywhere, args.flux_region_padding]


def _mask_mapping(paths: Sequence[Path], weights: Sequence[float]) -> list[dict[str, object]]:
    from PIL import Image, UnidentifiedImageError

    if weights and len(weights) != len(paths):
        raise CoupleError(
            f"--mask-weights has {len(weights)} values for {len(paths)} masks; give one per mask"
        )
    mapping: list[dict[str, object]] = []
    for number, path in enumerate(paths, start=1):
        try:
            with Image.open(path) as image:
                mask = image.convert("L")
        except (OSError, UnidentifiedImageError):
            raise CoupleError(f"mask {number}: cannot read {path} as an image") from None
        mapping.append({"mask": mask, "weight": weights[number - 1] if weights else 1.0})
    return mapping


def couple_params(args: argparse.Namespace) -> CoupleParams:
    """The CLI's options as the script's arguments, in the API's order."""
    mode = args.mode.capitalize()
    mapping: object = None
    if mode == "Advanced":
        if args.mapping is None:
            raise CoupleError("--mode advanced needs --mapping '[[x1, x2, y1, y2, weight], ...]'")
        mapping = args.mapping
    elif mode == "Mask":
        if not args.masks:
            raise CoupleError("--mode mask needs --masks, one image per region line")
        mapping = _mask_mapping(args.masks, args.mask_weights)
    background = {"first": "First Line", "last": "Last Line", "none": "None"}[args.background]
    direction = args.direction.capitalize()
    enabled, compatibility, common_parser, common_debug, def_in_prompt = (
        not args.no_couple,
        True,
        "{ }",
        False,
        True,
    )
    peer_args = [
        enabled,
        compatibility,
        mode,
        args.separator,
        direction,
        background,
        args.background_weight,
        mapping,
    ]
    tile_args = [False, 5, 4, 0.75, "", False]
    ours = [args.strict, args.region_negatives, *_flux_args(args)]
    return params_from_args([*peer_args, common_parser, common_debug, def_in_prompt, *tile_args, *ours])


def run_generate(args: argparse.Namespace) -> None:
    from lib_couple.hosts.standalone import GenerationRequest

    request = GenerationRequest(
        prompt=args.prompt.replace("\\n", "\n"),
        negative=args.negative.replace("\\n", "\n"),
        width=args.width,
        height=args.height,
        steps=args.steps,
        cfg=args.cfg,
        seed=args.seed,
        couple=couple_params(args),
    )
    request.regions()  # fail on bad regions before loading a model
    if args.checkpoint is not None:
        from lib_couple.hosts.checkpoint import generate_with_pipeline, load_checkpoint

        pipeline = load_checkpoint(args.checkpoint, args.config)
        result = generate_with_pipeline(pipeline, request, args.checkpoint.stem)
    elif args.model == "flux-demo":
        from lib_couple.demo.flux_model import load_flux_demo
        from lib_couple.hosts.flux_standalone import check_flux_request, generate_flux

        check_flux_request(request)  # before loading the model
        result = generate_flux(load_flux_demo(), request)
    else:
        from lib_couple.demo import load_demo_pipeline
        from lib_couple.hosts.standalone import generate

        result = generate(load_demo_pipeline(), request)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(args.out, pnginfo=png_parameters(result.parameters))
    print(result.parameters)
    for note in result.notes:
        print(f"Forge Couple: {note}", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


def run_walk(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from lib_couple.walk.frame_cache import FrameCache
    from lib_couple.walk.output import walk_record
    from lib_couple.walk.plan import WalkPlan
    from lib_couple.walk.video import FORMATS, export_video

    plan = WalkPlan(
        tuple(prompt.replace("\\n", "\n") for prompt in args.keyframes),
        tuple(args.seeds),
        args.frames,
        args.easing,
        args.method,
    )
    plan.validate()
    if args.out.suffix.lower() not in FORMATS:
        raise CoupleError(f"--out must end in one of {', '.join(FORMATS)}")
    from lib_couple.hosts.demo_models import check_walk_settings, walk_renderer
    from lib_couple.hosts.walk_standalone import WalkSettings, walk_frames

    settings = WalkSettings(args.width, args.height, args.steps, args.cfg, args.negative)
    check_walk_settings(args.model, settings)
    limits.FPS.check(args.fps)  # before any frame is rendered
    render = walk_renderer(args.model, plan, settings, FrameCache())
    positions = plan.positions()
    with tqdm(total=len(positions), desc="walk") as bar:
        frames = walk_frames(render, positions, lambda _, __: bar.update())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_video(frames, args.out, fps=args.fps)
    record = walk_record_path(args.out)
    record.write_text(json.dumps(walk_record(plan, settings, positions), indent=2), encoding="utf-8")
    print(f"wrote {args.out} ({len(frames)} frames) and {record}", file=sys.stderr)


def walk_record_path(video: Path) -> Path:
    """The walk record of a video, named after it: `walk.mp4` -> `walk.mp4.json`, so a `.gif` and
    an `.mp4` of two walks in one folder keep a record each."""
    return video.with_name(video.name + ".json")


def png_parameters(text: str) -> object:
    """PNG text chunk `parameters`, where Forge keeps the infotext."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", text)
    return info


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s: %(message)s")
    setup_logging()  # our own lines, INFO included (the debug options), as Forge shows them
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None:
        apply_threads(args.threads)
    try:
        if args.command == "generate":
            run_generate(args)
        elif args.command == "serve":
            run_serve(args)
        elif args.command == "walk":
            run_walk(args)
    except CoupleError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    return 0
