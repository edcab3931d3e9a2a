"""Command line: ``serve`` for Blender, ``ray-serve`` for a shared server over HTTP, one-shot
``texture``/``palette``/``ideas``/``maps`` for scripts, ``doctor`` to check an installation,
``models`` and ``download`` for the model manager.

One-shot commands run the same task code as ``serve`` in this process, print the result as
JSON on stdout (progress goes to stderr) and exit 0 only on success.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from core import colors, protocol
from core.pbr import MAP_ROLES, MapError, check_map_names

from .ray_serve.cli import add_parser as ray_serve_parser
from .server import run_request

EXIT_FAILED = 1
# A scene context in the shape the ideas task reads (tasks/ideas.describe_context).
CONTEXT_EXAMPLE = '{"selected": [{"name": "Chair", "dimensions": [0.5, 0.5, 0.9]}], "palette": ["#1a2b3c"]}'


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m backend`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m backend", description="Atelier's model backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="speak the JSON-lines protocol on stdin/stdout")
    serve.add_argument("--max-size", type=_positive, help="largest texture side in pixels (default 2048)")
    serve.add_argument("--max-steps", type=_positive, help="most denoising steps per texture (default 150)")

    texture = commands.add_parser("texture", help="generate one texture PNG")
    texture.add_argument("prompt")
    texture.add_argument("--out", required=True, help="PNG file to write")
    texture.add_argument("--model", default="", help="Hugging Face id or local diffusers folder")
    texture.add_argument("--width", type=int)
    texture.add_argument("--height", type=int)
    texture.add_argument("--steps", type=int)
    texture.add_argument("--guidance", type=float)
    texture.add_argument("--seed", type=int)
    texture.add_argument("--negative", default="", help="negative prompt")
    texture.add_argument("--seamless", choices=protocol.SEAMLESS_MODES,
                         default=protocol.TextureRequest.seamless)
    texture.add_argument("--allow-pickle", action="store_true",
                         help="accept pickle weights (they can run code; only for models you trust)")
    _common(texture)

    palette = commands.add_parser("palette", help="make a colour scheme")
    palette.add_argument("prompt", nargs="?", default="")
    palette.add_argument("--source", choices=protocol.PALETTE_SOURCES, default=protocol.PaletteRequest.source)
    palette.add_argument("--image", default="", help="image file to take colours from")
    palette.add_argument("--count", type=int, default=protocol.PaletteRequest.count)
    palette.add_argument("--harmony", choices=tuple(colors.HARMONY_RULES))
    palette.add_argument("--base-color", default="", help="#rrggbb for harmony rules")
    palette.add_argument("--model", default="", help="Hugging Face id or local folder: the text model "
                         "(source prompt) or the texture model (source prompt_image)")
    palette.add_argument("--seed", type=int)
    palette.add_argument("--out-dir", default="", help="folder for files the task writes "
                         "(default: a temporary folder, removed afterwards)")
    _common(palette)

    ideas = commands.add_parser("ideas", help="suggest scene ideas")
    ideas.add_argument("prompt")
    ideas.add_argument("--count", type=int, default=protocol.IdeasRequest.count)
    ideas.add_argument("--context", default="{}",
                       help="JSON object describing the current scene: the selected objects "
                            "(name, dimensions in metres) and the palette, e.g. " + CONTEXT_EXAMPLE)
    ideas.add_argument("--model", default="", help="Hugging Face id or local folder of a text model")
    ideas.add_argument("--seed", type=int)
    _common(ideas)

    maps = commands.add_parser("maps", help="make PBR maps (normal, height, ...) of an image file")
    maps.add_argument("image", help="the base-colour image file")
    maps.add_argument("--maps", default=",".join(MAP_ROLES),
                      help=f"comma-separated maps to make (default all: {','.join(MAP_ROLES)})")
    maps.add_argument("--out-dir", required=True,
                      help="folder for the maps, written as <image name>_<map>.png")
    maps.add_argument("--seamless", choices=protocol.SEAMLESS_MODES, default=protocol.MapsRequest.seamless,
                      help="axes the image tiles along (its maps then tile too)")
    maps.add_argument("--model", default="", help="classic (no weights), marigold, or a folder holding "
                      "normals/, appearance/ and depth/ (default: ATELIER_MAPS_MODEL, else marigold)")
    maps.add_argument("--steps", type=int, help="denoising steps of each Marigold model")
    maps.add_argument("--seed", type=int)
    maps.add_argument("--overwrite", action="store_true", help="replace map files that already exist")
    _common(maps)

    commands.add_parser("doctor", help="check this environment end to end, offline")
    ray_serve_parser(commands)

    models = commands.add_parser("models", help="list the models Atelier knows and what the cache holds "
                                 "(offline)")
    models.add_argument("--json", action="store_true", help="print the list as JSON")
    download = commands.add_parser("download", help="download a model from the Hugging Face hub "
                                   "(safetensors and configs only) into its cache")
    download.add_argument("model", help="Hugging Face id, e.g. stabilityai/sdxl-turbo")
    download.add_argument("--revision", default="", help="branch, tag or commit (default: the main branch)")
    download.add_argument("--accept-licence", action="store_true",
                          help="accept a licence that restricts commercial use (read it first)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--allow-network", action="store_true", help="allow model downloads")


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from . import server

        for flag, env in ((args.max_size, "ATELIER_MAX_SIZE"), (args.max_steps, "ATELIER_MAX_STEPS")):
            if flag is not None:
                os.environ[env] = str(flag)
        return server.main()
    if args.command == "ray-serve":
        from .ray_serve.cli import main as ray_serve_main

        return ray_serve_main(args)
    if args.command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main()
    if args.command == "texture":
        return _texture(args)
    if args.command == "palette":
        return _palette(args)
    if args.command == "maps":
        return _maps(args)
    if args.command in ("models", "download"):
        from . import cli_models

        result = (cli_models.list_models if args.command == "models" else cli_models.download)(args)
        if isinstance(result, protocol.ErrorEvent):
            return _fail(result.code, result.message, result.hint)
        if args.command == "download":
            _print_result(result)
        return 0
    try:
        context = json.loads(args.context)
    except ValueError as exc:
        return _fail("bad_request", f"--context is not JSON: {exc}", f"e.g. --context '{CONTEXT_EXAMPLE}'")
    if not isinstance(context, dict):
        return _fail("bad_request", "--context must be a JSON object", f"e.g. --context '{CONTEXT_EXAMPLE}'")
    return _one_shot(protocol.IdeasRequest(
        id="cli", prompt=args.prompt, count=args.count, context=context, model=args.model,
        device=args.device, allow_network=args.allow_network, seed=args.seed))


def _texture(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser().resolve()
    if out.suffix.lower() != ".png":
        return _fail("bad_request", f"--out must name a .png file, got {args.out}", "e.g. --out wall.png")
    if not out.parent.is_dir():
        return _fail("bad_request", f"folder {out.parent} does not exist", "create it first")
    scratch = tempfile.mkdtemp(prefix=".atelier-", dir=out.parent)
    try:
        result = run_request(protocol.TextureRequest(
            id="cli", prompt=args.prompt, output_dir=scratch, negative_prompt=args.negative,
            width=args.width, height=args.height, steps=args.steps, guidance=args.guidance,
            seed=args.seed, seamless=args.seamless, model=args.model, device=args.device,
            allow_network=args.allow_network, allow_pickle=args.allow_pickle))
        if isinstance(result, protocol.ErrorEvent):
            return _fail(result.code, result.message, result.hint)
        shutil.move(result.files[0].path, out)
        result.files[0].path = str(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _print_result(result)
    return 0


def _maps(args: argparse.Namespace) -> int:
    try:
        roles = check_map_names(name for name in args.maps.split(",") if name.strip())
    except MapError as exc:
        return _fail("bad_request", str(exc), "e.g. --maps normal,height,roughness")
    out_dir = Path(args.out_dir).expanduser().resolve()
    targets = {role: out_dir / f"{Path(args.image).stem}_{role}.png" for role in roles}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing and not args.overwrite:
        return _fail("bad_request", f"{', '.join(existing)} already exist(s)",
                     "pass --overwrite to replace them, or choose another --out-dir")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=".atelier-", dir=out_dir)
    except OSError as exc:
        return _fail("bad_request", f"cannot write in {out_dir}: {exc.strerror}",
                     "choose a folder you can write to")
    try:
        result = run_request(protocol.MapsRequest(
            id="cli", image=_absolute(args.image), maps=list(roles), seamless=args.seamless, model=args.model,
            output_dir=scratch, steps=args.steps, seed=args.seed, device=args.device,
            allow_network=args.allow_network))
        if isinstance(result, protocol.ErrorEvent):
            return _fail(result.code, result.message, result.hint)
        for file in result.files:
            shutil.move(file.path, targets[file.role])
            file.path = str(targets[file.role])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _print_result(result)
    return 0


def _palette(args: argparse.Namespace) -> int:
    if args.out_dir:
        return _one_shot(_palette_request(args, _absolute(args.out_dir)))
    # A palette from a painted image needs a folder to paint in; without --out-dir a temporary
    # one serves, as for ``texture``, and goes when the command ends.
    with tempfile.TemporaryDirectory(prefix="atelier-") as scratch:
        return _one_shot(_palette_request(args, scratch))


def _palette_request(args: argparse.Namespace, output_dir: str) -> protocol.PaletteRequest:
    return protocol.PaletteRequest(
        id="cli", source=args.source, prompt=args.prompt, image=args.image, count=args.count,
        harmony=args.harmony or "", base_color=args.base_color, model=args.model,
        device=args.device, output_dir=output_dir, allow_network=args.allow_network, seed=args.seed)


def _one_shot(request: protocol.Request) -> int:
    result = run_request(request)
    if isinstance(result, protocol.ErrorEvent):
        return _fail(result.code, result.message, result.hint)
    _print_result(result)
    return 0


def _print_result(result: protocol.ResultEvent) -> None:
    body = result.to_dict()
    body.pop("type")
    body.pop("id")
    print(json.dumps(body, indent=2, ensure_ascii=False))


def _fail(code: str, message: str, hint: str) -> int:
    print(f"error ({code}): {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return EXIT_FAILED


def _absolute(folder: str) -> str:
    return str(Path(folder).expanduser().resolve()) if folder else ""
