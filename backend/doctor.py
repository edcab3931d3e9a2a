"""``doctor``: what this environment has, and proof that a texture can be made end to end.

Nothing is downloaded: a tiny random-weight pipeline is built in a temporary folder and run
through the real texture task. Exit status 0 means the backend works here.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import __version__, protocol

_LIBRARIES = ("torch", "diffusers", "transformers", "safetensors", "numpy", "pillow",
              "huggingface_hub", "xgrammar", "coloraide")
_REQUIRED = ("torch", "diffusers", "transformers", "safetensors", "numpy", "pillow")


def main() -> int:
    """Print the report; 0 when everything needed works."""
    print(f"Atelier backend {__version__}, protocol {protocol.PROTOCOL_VERSION}")
    print(f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}")
    missing = []
    for name in _LIBRARIES:
        try:
            print(f"  {name:16} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            print(f"  {name:16} not installed")
            if name in _REQUIRED:
                missing.append(name)
    if missing:
        return _broken(f"missing libraries: {', '.join(missing)}",
                       "install them with: pip install -r backend/requirements.txt")
    try:
        _report_devices()
    except Exception as exc:  # a broken torch build must still give a readable report
        return _broken(f"torch cannot start: {type(exc).__name__}: {exc}",
                       "reinstall torch for this platform (see https://pytorch.org)")
    return _end_to_end()


def _report_devices() -> None:
    import torch

    from .device import resolve_device

    if torch.cuda.is_available():
        print(f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} device(s)")
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            print(f"  cuda:{index} {torch.cuda.get_device_name(index)}: "
                  f"{free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB")
    else:
        print("CUDA: not available")
    mps = getattr(torch.backends, "mps", None)
    print(f"MPS: {'available' if mps and mps.is_available() else 'not available'}")
    print(f"device 'auto' resolves to: {resolve_device('auto')}")


def _end_to_end() -> int:
    from .cli import run_request
    from .tiny_models import build_tiny_sd

    with tempfile.TemporaryDirectory(prefix="atelier-doctor-") as tmp:
        started = time.monotonic()
        try:
            model = build_tiny_sd(Path(tmp) / "tiny-sd")
        except Exception as exc:
            return _broken(f"cannot build a tiny pipeline: {type(exc).__name__}: {exc}",
                           "check that diffusers and transformers match backend/requirements.txt")
        result = run_request(protocol.TextureRequest(
            id="doctor", prompt="doctor check", output_dir=str(Path(tmp) / "out"), model=str(model),
            width=64, height=64, steps=2, seed=0))
        if isinstance(result, protocol.ErrorEvent):
            return _broken(f"the test texture failed ({result.code}): {result.message}", result.hint)
        path = Path(result.files[0].path)
        if not path.is_file():
            return _broken(f"the test texture {path} was not written", "check the disk and permissions")
        print(f"end-to-end texture on {result.metadata['device']} ({result.metadata['dtype']}): "
              f"ok in {time.monotonic() - started:.1f} s")
    print("doctor: everything works")
    return 0


def _broken(reason: str, hint: str) -> int:
    print(f"doctor: BROKEN: {reason}", file=sys.stderr)
    print(f"hint: {hint}", file=sys.stderr)
    return 1
