"""``doctor``: what this environment has, and proof that both model paths work end to end.

Nothing is downloaded: a tiny random-weight diffusion pipeline is built in a temporary folder
and run through the real texture task, then a tiny instruct model writes one schema-constrained
JSON document through the same loader and decoder the palette and ideas tasks use. Exit status
0 means the backend works here.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import tempfile
import time
from pathlib import Path

from core import __version__, protocol
from core.errors import TaskError

# What backend/requirements.txt installs; all are needed except those in _OPTIONAL.
_LIBRARIES = ("torch", "diffusers", "transformers", "safetensors", "numpy", "pillow",
              "huggingface_hub", "xgrammar", "jsonschema", "coloraide", "accelerate")
_OPTIONAL = ("accelerate",)  # only CPU offload needs it
# The document the text check asks for: small, bounded, so the token budget stays tiny.
_CHECK_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "word": {"type": "string", "pattern": "^[a-z]{1,8}$"}},
    "required": ["ok", "word"],
    "additionalProperties": False,
}


def main() -> int:
    """Print the report; 0 when everything needed works."""
    print(f"Atelier backend {__version__}, protocol {protocol.PROTOCOL_VERSION}")
    print(f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}")
    missing = []
    for name in _LIBRARIES:
        try:
            print(f"  {name:16} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            print(f"  {name:16} not installed{' (optional)' if name in _OPTIONAL else ''}")
            if name not in _OPTIONAL:
                missing.append(name)
    if missing:
        return _broken(f"missing libraries: {', '.join(missing)}",
                       "install them with: pip install -r backend/requirements.txt")
    try:
        _report_devices()
    except TaskError as exc:  # e.g. ATELIER_DEVICE names a device this machine lacks
        return _broken(exc.message, exc.hint)
    except Exception as exc:  # a broken torch build must still give a readable report
        return _broken(f"torch cannot start: {type(exc).__name__}: {exc}",
                       "reinstall torch for this platform (see https://pytorch.org)")
    with tempfile.TemporaryDirectory(prefix="atelier-doctor-") as tmp:
        status = _texture_end_to_end(Path(tmp)) or _text_end_to_end(Path(tmp))
    if status == 0:
        print("doctor: everything works")
    return status


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
    if mps and mps.is_available():
        limit = torch.mps.recommended_max_memory()
        free = limit - torch.mps.driver_allocated_memory()
        print(f"MPS: available, {free / 2**30:.1f} GiB free of {limit / 2**30:.1f} GiB recommended")
    else:
        print("MPS: not available")
    print(f"device 'auto' resolves to: {resolve_device('auto')}")


def _texture_end_to_end(tmp: Path) -> int:
    from .cli import run_request
    from .doctor_models import build_tiny_sd

    started = time.monotonic()
    try:
        model = build_tiny_sd(tmp / "tiny-sd")
    except Exception as exc:
        return _broken(f"cannot build a tiny pipeline: {type(exc).__name__}: {exc}",
                       "check that diffusers and transformers match backend/requirements.txt")
    result = run_request(protocol.TextureRequest(
        id="doctor", prompt="doctor check", output_dir=str(tmp / "out"), model=str(model),
        width=64, height=64, steps=2, seed=0))
    if isinstance(result, protocol.ErrorEvent):
        return _broken(f"the test texture failed ({result.code}): {result.message}", result.hint)
    path = Path(result.files[0].path)
    if not path.is_file():
        return _broken(f"the test texture {path} was not written", "check the disk and permissions")
    print(f"end-to-end texture on {result.metadata['device']} ({result.metadata['dtype']}): "
          f"ok in {time.monotonic() - started:.1f} s")
    return 0


def _text_end_to_end(tmp: Path) -> int:
    """A tiny instruct model writes one schema-constrained document (palette/ideas path)."""
    from .model_cache import ModelCache
    from .structured import generate_json
    from .task_context import JobContext
    from .text_model import load_text_model
    from .tiny_text_model import build_tiny_text_model

    started = time.monotonic()
    try:
        model = build_tiny_text_model(tmp / "tiny-text")
    except Exception as exc:
        return _broken(f"cannot build a tiny text model: {type(exc).__name__}: {exc}",
                       "check that transformers and tokenizers match backend/requirements.txt")
    # The request a text job carries; only its model and device matter here.
    request = protocol.IdeasRequest(id="doctor-text", prompt="doctor check", model=str(model))
    try:
        job = JobContext(request, ModelCache())
        lm = load_text_model(job, request.model)
        answer = generate_json(
            job, lm, schema=_CHECK_SCHEMA, seed=0,
            messages=[{"role": "user", "content": "Answer with a JSON object."}])
    except TaskError as exc:
        return _broken(f"the test text generation failed ({exc.code}): {exc.message}", exc.hint)
    except Exception as exc:  # an incompatible xgrammar or transformers must still be reported
        return _broken(f"the test text generation failed: {type(exc).__name__}: {exc}",
                       "check that transformers and xgrammar match backend/requirements.txt")
    print(f"end-to-end text on {job.device} ({str(job.dtype).removeprefix('torch.')}): ok in "
          f"{time.monotonic() - started:.1f} s ({answer.tokens} tokens, schema-valid JSON)")
    return 0


def _broken(reason: str, hint: str) -> int:
    print(f"doctor: BROKEN: {reason}", file=sys.stderr)
    print(f"hint: {hint}", file=sys.stderr)
    return 1
