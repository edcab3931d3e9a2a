"""``doctor``: what this environment has, and proof that both model paths work end to end.

It also says whether the texture model the backend uses (``ATELIER_TEXTURE_MODEL`` or the
default) fits the GPU's memory, naming a lighter model when it does not; that is advice, never
a failure.

Nothing is downloaded: a tiny random-weight diffusion pipeline is built in a temporary folder
and run through the real texture task, then a tiny instruct model writes one schema-constrained
JSON document through the same loader and decoder the palette and ideas tasks use.

The checks write their report line by line through a ``say`` callback and never print: the
command ``python -m backend doctor`` prints the lines (exit status 0 means the backend works
here), and the ``doctor`` request of ``serve`` (``tasks/doctor.py``), whose stdout is the
protocol, collects them into its result.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import __version__, protocol, texture_models
from core.errors import Cancelled, TaskError

from .models import texture_model_setting

# What backend/requirements.txt names; all are needed except those in _OPTIONAL.
_LIBRARIES = ("torch", "diffusers", "transformers", "safetensors", "numpy", "pillow",
              "huggingface_hub", "xgrammar", "jsonschema", "coloraide", "accelerate", "torchao")
# Only CPU offload (ATELIER_CPU_OFFLOAD, ATELIER_LOW_VRAM) needs accelerate; only ATELIER_QUANTIZE torchao.
_OPTIONAL = ("accelerate", "torchao")
# The document the text check asks for: small, bounded, so the token budget stays tiny.
_CHECK_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "word": {"type": "string", "pattern": "^[a-z]{1,8}$"}},
    "required": ["ok", "word"],
    "additionalProperties": False,
}
VERDICT_OK = "doctor: everything works"
BROKEN_PREFIX = "doctor: BROKEN: "

# say(line, problem): one report line; problem=True for the lines saying what broke.
Say = Callable[..., None]
# before_check(step, total, stage): called before each check (progress, cancel).
BeforeCheck = Callable[[int, int, str], None]


@dataclass
class Checkup:
    """What the checks share: where the report goes, a scratch folder, the device to use and
    the cancel event of the job running them (never set for the command)."""

    say: Say
    tmp: Path = Path()
    device: str = "auto"
    cancel: threading.Event = field(default_factory=threading.Event)
    texture_model: str = ""  # "" = ATELIER_TEXTURE_MODEL or the default

    def broken(self, reason: str, hint: str) -> bool:
        """Report what broke and what to change; the check failed."""
        self.say(f"{BROKEN_PREFIX}{reason}", problem=True)
        self.say(f"hint: {hint}", problem=True)
        return False


def main() -> int:
    """Print the report (problems on stderr); 0 when everything needed works."""
    def say(line: str, problem: bool = False) -> None:
        print(line, file=sys.stderr if problem else sys.stdout, flush=True)

    return 0 if run_checks(say) else 1


def run_checks(say: Say, device: str = "auto", before_check: BeforeCheck | None = None,
               cancel: threading.Event | None = None, texture_model: str = "") -> bool:
    """Run every check in order, reporting through ``say``; True when everything needed works.

    Stops at the first check that fails (the report says what to fix). ``before_check`` may
    raise (``Cancelled``) to stop between checks; ``cancel`` also stops the texture and text
    jobs at their next step (the running job's ``threading.Event``), raising ``Cancelled``.
    """
    checkup = Checkup(say, device=device, cancel=cancel or threading.Event(), texture_model=texture_model)
    say(f"Atelier backend {__version__}, protocol {protocol.PROTOCOL_VERSION}")
    say(f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="atelier-doctor-") as tmp:
        checkup.tmp = Path(tmp)
        for step, (stage, check) in enumerate(CHECKS):
            if before_check is not None:
                before_check(step, len(CHECKS), stage)
            if not check(checkup):
                return False
    say(VERDICT_OK)
    return True


def _libraries(checkup: Checkup) -> bool:
    missing = []
    for name in _LIBRARIES:
        try:
            checkup.say(f"  {name:16} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            checkup.say(f"  {name:16} not installed{' (optional)' if name in _OPTIONAL else ''}")
            if name not in _OPTIONAL:
                missing.append(name)
    if missing:
        return checkup.broken(f"missing libraries: {', '.join(missing)}",
                              "install them with: pip install -r backend/requirements.txt")
    return True


def _devices(checkup: Checkup) -> bool:
    try:
        _report_devices(checkup.say, checkup.device)
    except TaskError as exc:  # e.g. ATELIER_DEVICE names a device this machine lacks
        return checkup.broken(exc.message, exc.hint)
    except Exception as exc:  # a broken torch build must still give a readable report
        return checkup.broken(f"torch cannot start: {type(exc).__name__}: {exc}",
                              "reinstall torch for this platform (see https://pytorch.org)")
    return True


def _report_devices(say: Say, device: str) -> None:
    import torch

    from .device import resolve_device

    if torch.cuda.is_available():
        say(f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} device(s)")
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            say(f"  cuda:{index} {torch.cuda.get_device_name(index)}: "
                f"{free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB")
    else:
        say("CUDA: not available")
    mps = getattr(torch.backends, "mps", None)
    if mps and mps.is_available():
        limit = torch.mps.recommended_max_memory()
        free = limit - torch.mps.driver_allocated_memory()
        say(f"MPS: available, {free / 2**30:.1f} GiB free of {limit / 2**30:.1f} GiB recommended")
    else:
        say("MPS: not available")
    say(f"device {device!r} resolves to: {resolve_device(device)}")


def _texture_model_memory(checkup: Checkup) -> bool:
    """Whether the backend's texture model fits the GPU it would run on; advice only."""
    checkup.say(texture_models.gpu_memory_advice(texture_model_setting(checkup.texture_model),
                                                   _gpu_memory(checkup.device)))
    return True


def _gpu_memory(device: str) -> int | None:
    """Total memory in bytes of the CUDA GPU that ``device`` resolves to; None for no CUDA GPU."""
    import torch

    from .device import resolve_device

    resolved = resolve_device(device)
    if not resolved.startswith("cuda"):
        return None
    return torch.cuda.get_device_properties(torch.device(resolved)).total_memory


def _texture_end_to_end(checkup: Checkup) -> bool:
    from . import fast_path
    from .doctor_models import build_tiny_sd
    from .server import run_request

    started = time.monotonic()
    try:
        model = build_tiny_sd(checkup.tmp / "tiny-sd")
    except Exception as exc:
        return checkup.broken(f"cannot build a tiny pipeline: {type(exc).__name__}: {exc}",
                              "check that diffusers and transformers match backend/requirements.txt")
    # Compiling even the tiny model would take a minute on a GPU and prove nothing about the user's.
    with fast_path.not_compiling("never for the doctor's test texture"):
        result = run_request(protocol.TextureRequest(
            id="doctor", prompt="doctor check", output_dir=str(checkup.tmp / "out"), model=str(model),
            width=64, height=64, steps=2, seed=0, device=checkup.device), cancel=checkup.cancel)
    if isinstance(result, protocol.ErrorEvent):
        if result.code == "cancelled":
            raise Cancelled()
        return checkup.broken(f"the test texture failed ({result.code}): {result.message}", result.hint)
    path = Path(result.files[0].path)
    if not path.is_file():
        return checkup.broken(f"the test texture {path} was not written", "check the disk and permissions")
    checkup.say(f"end-to-end texture on {result.metadata['device']} ({result.metadata['dtype']}): "
                f"ok in {time.monotonic() - started:.1f} s")
    applied = result.metadata.get("optimisations", {})
    checkup.say(f"  {_memory_settings(applied)}")
    checkup.say(f"  compile: {applied.get('compile', 'off')}; "
                f"{_real_job_speed_settings(result.metadata['device'])}")
    return True


def _real_job_speed_settings(device: str) -> str:
    """What ATELIER_FAST and ATELIER_COMPILE give real jobs on ``device`` (the test texture ran
    uncompiled)."""
    from .fast_path import resolve

    try:
        settings = resolve(device)
    except TaskError as exc:
        return f"real jobs would be refused: {exc.message} ({exc.hint})"
    compiled = f"compiled ({settings.compile_mode})" if settings.compile_mode else "not compiled"
    return f"real jobs on {device}: fast path {'on' if settings.fast else 'off'} ({settings.why}), {compiled}"


def _memory_settings(applied: dict) -> str:
    """What ATELIER_QUANTIZE, ATELIER_LOW_VRAM and ATELIER_CPU_OFFLOAD did to the test texture."""
    def on(name: str) -> str:
        return "on" if applied.get(name) else "off"

    return (f"denoiser weights: {applied.get('quantize', 'off')}; low VRAM: {on('low_vram')} "
            f"(tiled VAE: {on('vae_tiling')}, CPU offload: {on('cpu_offload')})")


def _text_end_to_end(checkup: Checkup) -> bool:
    """A tiny instruct model writes one schema-constrained document (palette/ideas path)."""
    from .model_cache import ModelCache
    from .structured import generate_json
    from .task_context import JobContext
    from .text_model import load_text_model
    from .tiny_text_model import build_tiny_text_model

    started = time.monotonic()
    try:
        model = build_tiny_text_model(checkup.tmp / "tiny-text")
    except Exception as exc:
        return checkup.broken(f"cannot build a tiny text model: {type(exc).__name__}: {exc}",
                              "check that transformers and tokenizers match backend/requirements.txt")
    # The request a text job carries; only its model and device matter here.
    request = protocol.IdeasRequest(id="doctor-text", prompt="doctor check", model=str(model),
                                    device=checkup.device)
    try:
        job = JobContext(request, ModelCache(), cancel_event=checkup.cancel)
        lm = load_text_model(job, request.model)
        answer = generate_json(
            job, lm, schema=_CHECK_SCHEMA, seed=0,
            messages=[{"role": "user", "content": "Answer with a JSON object."}])
    except Cancelled:
        raise
    except TaskError as exc:
        return checkup.broken(f"the test text generation failed ({exc.code}): {exc.message}", exc.hint)
    except Exception as exc:  # an incompatible xgrammar or transformers must still be reported
        return checkup.broken(f"the test text generation failed: {type(exc).__name__}: {exc}",
                              "check that transformers and xgrammar match backend/requirements.txt")
    checkup.say(f"end-to-end text on {job.device} ({str(job.dtype).removeprefix('torch.')}): ok in "
                f"{time.monotonic() - started:.1f} s ({answer.tokens} tokens, schema-valid JSON)")
    return True


# (stage, check): the order the report follows; each returns True when it passed.
CHECKS: tuple[tuple[str, Callable[[Checkup], bool]], ...] = (
    ("libraries", _libraries),
    ("devices", _devices),
    ("texture model memory", _texture_model_memory),
    ("texture end to end", _texture_end_to_end),
    ("text end to end", _text_end_to_end),
)
