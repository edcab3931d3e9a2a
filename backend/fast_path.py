"""The fast path: a loaded text-to-image pipeline made faster on the GPU (``ATELIER_FAST``).

``ATELIER_FAST=auto`` (the default) turns it on for CUDA devices and off elsewhere; ``on`` forces
it on any device, ``off`` never. When on:

- attention runs through PyTorch's scaled-dot-product attention (diffusers' ``AttnProcessor2_0``,
  which picks the flash or memory-efficient kernel); a slower processor is replaced;
- the query, key and value projections of each attention layer are fused into one matrix
  multiply (UNet and VAE of SD/SDXL, FLUX's transformer; skipped for quantised weights and for
  offloaded models); the projections they were made from become views of the fused weights, so
  fusing takes no extra memory (except in a VAE that the pipeline casts to float32 at each decode,
  such as SDXL's without CUDA graphs, see ``_share_fused_weights``);
- the UNet and the VAE keep their convolution weights channels-last, the layout GPU kernels want;
- the denoiser and the VAE decoder are compiled with ``torch.compile`` (``torch_compile``) unless
  ``ATELIER_COMPILE=0``: static shapes, CUDA graphs on CUDA, compiled code cached on disk. With
  CUDA graphs, a half-precision VAE that the pipeline would cast to float32 at each decode is
  kept in float32 instead (``vae_precision``): graphs need weights that stay where they were
  recorded.
  Compiling happens only in ``warm_up``: a short generation at a size, reported as a stage, so a
  job says what it waits for; a call at a size never warmed up runs the eager code.

Each change alters rounding only (fusion, accumulation order, the kernels' accumulation
precision): results differ from eager ones by rounding (bounded by PSNR tests: tests/fast on the
CPU, bench/gpu_fast.py on the GPU). The prompt-embedding
cache (``prompt_cache``) is exact and is installed whatever the setting. Nothing here reads a
tensor back to the host: the per-step callbacks of the tasks follow the same rule (a read would
make the CPU wait for the GPU at every step). What was applied is noted on the pipeline
(``setup_notes``) and recorded with every result as ``optimisations``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import Cancelled, TaskError, first_line

from . import env_switch, prompt_cache, setup_notes, torch_compile, vae_precision
from .memory_mode import offloaded
from .torch_compile import COMPILE_ENV

FAST_ENV = "ATELIER_FAST"
# CUDA graphs replay a whole recorded call with one launch: the launch overhead of hundreds of
# small kernels per UNet step is most of a one-step Turbo image's time on a fast GPU. They need
# fixed shapes, which static compilation per size already gives. "max-autotune" would add minutes
# of kernel benchmarking to every first compile for a few percent.
CUDA_COMPILE_MODE = "reduce-overhead"
OTHER_COMPILE_MODE = "default"  # CUDA graphs exist on CUDA only
# A warm-up is two short calls: compiled code is made at the first, and CUDA graphs are
# recorded at the second, so the job that follows replays them from its first step.
WARM_UP_CALLS = 2
WARM_UP_STEPS = 2
# Why pipelines set up in this context are not compiled whatever the environment says ("": they
# follow it); set by ``not_compiling``. Per thread, unlike the environment.
_NOT_COMPILING = contextvars.ContextVar("atelier_not_compiling", default="")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """What the fast path does on one device, from the environment."""

    fast: bool  # SDPA attention, fused QKV projections, channels-last weights
    compile_mode: str | None  # torch.compile mode of the denoiser and VAE decoder; None: no compile
    why: str = ""  # how it was reached, for the record (e.g. "ATELIER_FAST=auto on cuda")
    # torch.compile's backend: inductor generates kernels; "eager" traces and guards only
    # (minutes faster on a CPU, which is how the tests check compiling and warming up)
    compile_backend: str = "inductor"
    compile_off: str = f"{COMPILE_ENV} off"  # why compile_mode is None, for the record


def resolve(device: str) -> Settings:
    """The fast path's settings for ``device``, or a ``bad_request`` naming the variable to fix.
    With compiling on, the compile cache folder is created and set here."""
    value = env_switch.setting(FAST_ENV, "auto", ("auto",))
    compile_on = env_switch.switch(COMPILE_ENV, default=True)
    cuda = device.startswith("cuda")
    fast = value == "on" or (value == "auto" and cuda)
    why = f"{FAST_ENV}={value}" + (f" on {device}" if value == "auto" else "")
    if not_compiling := _NOT_COMPILING.get():
        return Settings(fast, None, why, compile_off=not_compiling)
    if not fast or not compile_on:
        return Settings(fast, None, why)
    torch_compile.use_cache(torch_compile.cache_folder())
    return Settings(True, CUDA_COMPILE_MODE if cuda else OTHER_COMPILE_MODE, why)


@contextlib.contextmanager
def not_compiling(reason: str):
    """Pipelines set up inside the block (on this thread) are not compiled, whatever
    ``ATELIER_COMPILE`` says; ``reason`` goes on their record."""
    token = _NOT_COMPILING.set(reason)
    try:
        yield
    finally:
        _NOT_COMPILING.reset(token)


def speed_up(pipe, device: str, settings: Settings | None = None) -> None:
    """Apply the fast path to ``pipe`` on ``device`` (``settings``: as the environment says)."""
    settings = settings or resolve(device)

    def note(name: str, value: str) -> None:
        setup_notes.note(pipe, name, value)

    note("prompt_cache", ", ".join(prompt_cache.install(pipe)) or "none")
    note("fast", "on" if settings.fast else "off")
    if settings.why:
        note("fast_setting", settings.why)
    if not settings.fast:
        return
    denoiser = _denoiser(pipe)
    vae = getattr(pipe, "vae", None)
    if settings.compile_mode == CUDA_COMPILE_MODE and _compiles(denoiser, vae, settings):
        # CUDA graphs need weights that stay put. Before fusing: casting a fused VAE copies its views.
        note("vae_float32", vae_precision.keep_float32(pipe))
    note("attention", _use_sdpa(denoiser, vae))
    note("fused_qkv", "off (offloaded)" if offloaded(denoiser, vae) else _fuse_projections(denoiser, vae))
    note("channels_last", _channels_last(pipe))
    note("compile", _compile(denoiser, vae, settings))


def _denoiser(pipe):
    return getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)


def _use_sdpa(*models) -> str:
    """Attention of the UNet and VAE on scaled-dot-product attention: a slower processor (the
    classic or sliced one, which compute the attention matrix in full) is replaced."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0, SlicedAttnProcessor

    slow = (AttnProcessor, SlicedAttnProcessor)
    replaced = []
    for model in models:
        processors = getattr(model, "attn_processors", None) if model is not None else None
        if processors and any(isinstance(processor, slow) for processor in processors.values()):
            model.set_attn_processor(AttnProcessor2_0())
            replaced.append(type(model).__name__)
    return f"sdpa (replaced in {', '.join(replaced)})" if replaced else "sdpa"


def _fuse_projections(*models) -> str:
    """Fuse the attention projections of each model that can; says which were fused and why not."""
    fused, skipped = [], []
    for model in models:
        if model is None or not hasattr(model, "fuse_qkv_projections"):
            continue
        name = type(model).__name__
        if not _plain_weights(model):
            skipped.append(f"{name}: quantised weights")
            continue
        try:
            model.fuse_qkv_projections()
        except ValueError as exc:  # e.g. added key/value projections, which diffusers cannot fuse
            skipped.append(f"{name}: {first_line(exc)}")
            continue
        _share_fused_weights(model)
        fused.append(name)
    text = ", ".join(fused) or "none"
    return f"{text} (skipped {'; '.join(skipped)})" if skipped else text


# The fused projections diffusers makes, each with the projections it concatenates, in order.
_FUSED_PARTS = (("to_qkv", ("to_q", "to_k", "to_v")), ("to_kv", ("to_k", "to_v")),
                ("to_added_qkv", ("add_q_proj", "add_k_proj", "add_v_proj")))


def _share_fused_weights(model) -> None:
    """Make the projections a fused one was made from views into its weights and biases.

    diffusers keeps them (to unfuse later, and cross-attention still runs ``to_q``) as copies:
    SDXL's UNet would hold a quarter more weights (1.2 GB in fp16). As views they take no memory,
    compute the same values and still unfuse. The model must not move afterwards: ``to()`` copies
    each view on its own (which is why offloaded models are not fused, and why
    ``vae_precision.keep_float32`` runs before fusing). A VAE that the pipeline casts to float32
    and back at every decode (SDXL's, ``force_upcast``, without CUDA graphs) has copies again from
    its first decode on: a few megabytes (its attention layers are few), still correct."""
    from torch import nn

    for module in model.modules():
        for fused_name, part_names in _FUSED_PARTS:
            fused = getattr(module, fused_name, None)
            parts = [getattr(module, name, None) for name in part_names]
            if not isinstance(fused, nn.Linear) or not all(isinstance(part, nn.Linear) for part in parts):
                continue
            start = 0
            for part in parts:
                rows = slice(start, start + part.out_features)
                part.weight = nn.Parameter(fused.weight.data[rows], requires_grad=part.weight.requires_grad)
                if part.bias is not None and fused.bias is not None:
                    part.bias = nn.Parameter(fused.bias.data[rows], requires_grad=part.bias.requires_grad)
                start += part.out_features


def _plain_weights(model) -> bool:
    """Whether every weight of ``model`` is an ordinary tensor (not a quantised subclass, which
    cannot be concatenated into a fused projection)."""
    import torch

    return all(type(param.data) is torch.Tensor for param in model.parameters())


def _channels_last(pipe) -> str:
    import torch

    moved = []
    for name in ("unet", "vae"):
        model = getattr(pipe, name, None)
        if model is not None:
            model.to(memory_format=torch.channels_last)
            moved.append(name)
    return ", ".join(moved) or "none"


def _compiles(denoiser, vae, settings: Settings) -> bool:
    # Offloaded models move between CPU and GPU around every call: nothing fixed to compile.
    return settings.compile_mode is not None and not offloaded(denoiser, vae)


def _compile(denoiser, vae, settings: Settings) -> str:
    if settings.compile_mode is None:
        return f"off ({settings.compile_off})" if settings.fast else "off"
    if not _compiles(denoiser, vae, settings):
        return "off (models offloaded to the CPU)"
    torch_compile.compile_module(denoiser, settings.compile_mode, settings.compile_backend)
    compiled = [type(denoiser).__name__]
    decoder = getattr(vae, "decoder", None)
    if decoder is not None:
        torch_compile.compile_module(decoder, settings.compile_mode, settings.compile_backend)
        compiled.append("VAE decoder")
    return f"{settings.compile_mode} ({', '.join(compiled)})"


def compiling(pipe) -> bool:
    """Whether ``pipe``'s denoiser runs compiled (so a new size compiles at its first call)."""
    return torch_compile.is_compiled(_denoiser(pipe))


def warm_up(pipe, width: int, height: int, run: Callable[[int, int], object], *,
            variant: tuple = (), report: Callable[[str], None] | None = None) -> bool:
    """Compile ``pipe`` for ``width`` x ``height`` (and ``variant``: whatever else changes its
    shapes, e.g. whether guidance doubles the batch) by calling ``run(width, height)``, a short
    generation at that size, ``WARM_UP_CALLS`` times. Does nothing for a pipeline that is not
    compiled or a shape already warmed; ``report(stage)`` is told before compiling starts.

    A compile that fails (no C++ compiler, no Triton) is no failure of the job: the models get
    their eager code back, the record says why, and the job runs uncompiled. Returns whether it
    compiled now."""
    import torch

    denoiser = _denoiser(pipe)
    if not torch_compile.is_compiled(denoiser):
        return False
    shape = (width, height, *variant)
    done = torch_compile.warmed(denoiser)
    if shape in done:
        return False
    if report is not None:
        report(f"compiling the model for {width}x{height} (first time only)")
    try:
        with torch_compile.compiling_allowed():
            for _ in range(WARM_UP_CALLS):
                run(width, height)
    except (Cancelled, TaskError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # a compiler missing or failing: the eager models still work
        log.warning("compiling failed, running uncompiled: %s", first_line(exc))
        for model in (denoiser, getattr(getattr(pipe, "vae", None), "decoder", None)):
            torch_compile.uncompile(model)
        setup_notes.note(pipe, "compile", f"failed, eager ({first_line(exc)[:200]})")
        return False
    done.add(shape)
    return True


@contextlib.contextmanager
def eager_if(condition: bool):
    """Run compiled models eagerly inside the block when ``condition`` holds."""
    if not condition:
        yield
        return
    with torch_compile.eager():
        yield


def optimisations(pipe, eager: bool = False) -> dict:
    """What ``pipe`` ran with, for the record; ``eager``: this call bypassed compiled code."""
    applied = setup_notes.applied(pipe)
    if eager and compiling(pipe):
        applied["compile"] = f"eager for this job ({applied.get('compile', '')})"
    return applied
