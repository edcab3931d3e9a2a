"""What the GPU benchmark scripts share: their command line, the device they run on, and the
random-weight pipeline folders they time (full size on a GPU, the tests' tiny ones on a CPU)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.gpu_turbo import MODELS, build_full_size

ROOT = Path(__file__).resolve().parent.parent


def parser(description: str, check_flag: str) -> argparse.ArgumentParser:
    """The options every GPU benchmark takes; ``check_flag`` (e.g. ``--tiny``) runs it with tiny
    models on the CPU, a check that it runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(check_flag, dest="tiny", action="store_true",
                        help="tiny models on the CPU (a check that it runs)")
    parser.add_argument("--json", help="file to write the numbers to")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=360.0, help="stop adding measurements after this")
    parser.add_argument("--models", default="sd-turbo,sdxl-turbo", help="comma-separated subset to run")
    return parser


def wanted_models(parser: argparse.ArgumentParser, args) -> list[tuple[str, str]]:
    """(name, kind) of the models ``--models`` names; a parser error when it names none."""
    wanted = [(name, kind) for name, kind in MODELS if name in args.models.split(",")]
    if not wanted:
        parser.error(f"--models names none of {', '.join(name for name, _ in MODELS)}")
    return wanted


def device_and_dtype(tiny: bool, check_flag: str):
    """("cuda", fp16) on a GPU, ("cpu", fp32) for the tiny check; exits when no GPU is there."""
    import torch

    if tiny:
        sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny model builders
        return "cpu", torch.float32
    if not torch.cuda.is_available():
        sys.exit(f"no CUDA GPU: run with {check_flag} on a CPU")
    return "cuda", torch.float16


def build_pipeline(kind: str, folder: Path, tiny: bool, device: str, dtype) -> Path:
    """A random-weight pipeline of ``kind`` ('sd' or 'sdxl') in ``folder``: full size from the
    published config, or the tests' tiny one."""
    if tiny:
        from tiny_pipelines import build_tiny_sdxl

        from backend.doctor_models import build_tiny_sd

        (build_tiny_sd if kind == "sd" else build_tiny_sdxl)(folder)
    else:
        build_full_size(kind, folder, device, dtype)
    return folder


def results_header(device: str, dtype, size: int, steps: int, args) -> dict:
    """The fields every benchmark's JSON begins with: where and how it was measured."""
    import diffusers
    import torch

    return {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
            "dtype": str(dtype).removeprefix("torch."), "size": size, "steps": steps,
            "torch": torch.__version__, "diffusers": diffusers.__version__, "warmup": args.warmup,
            "repeats": args.repeats, "models": {}}
