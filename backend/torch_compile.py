"""torch.compile of a pipeline's denoiser and VAE decoder, with compiled code kept on disk.

A model is compiled in place: its ``forward`` becomes the compiled one (an instance attribute,
so the module keeps its class, its config and its weights, and ``from_pipe`` pipelines that share
it run compiled too). Shapes are static (``dynamic=False``): each image size compiles once.

Compiling happens only inside ``compiling_allowed`` (the fast path's warm-up, which reports it).
Once a model is compiled the process runs compiled code only where it exists: a call at shapes
never warmed up (an upscale's size, a tiled decode's tiles) runs the eager code instead of
stopping a job for minutes to compile (torch's "eager_on_recompile" stance).

Inductor writes what it compiled under ``TORCHINDUCTOR_CACHE_DIR``; left unset that is a folder
in the temporary directory, which for the backend is a private one removed when it exits. The
folder is set here, before anything compiles, to ``ATELIER_COMPILE_CACHE`` or the user's cache
folder, so the next start of the backend loads compiled code instead of compiling again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from pathlib import Path

from core.errors import TaskError
from core.schema import short  # a value echoed in a message: at most 40 characters

# 0 runs the fast path without compiling (quicker start, e.g. for tests; or when compiling fails).
COMPILE_ENV = "ATELIER_COMPILE"
COMPILE_CACHE_ENV = "ATELIER_COMPILE_CACHE"
# Compiled versions kept per forward (sizes x guidance x dtypes, models loaded again after others).
RECOMPILE_LIMIT = 64
# The attribute that marks a module's forward as ours (and holds its shapes warmed so far).
_COMPILED = "_atelier_compiled"
# Every module compiled here that is still alive (to warm up again after ``release``).
_ALIVE: weakref.WeakSet = weakref.WeakSet()


def cache_folder() -> Path:
    """Where compiled code is kept: ``ATELIER_COMPILE_CACHE``, else ``atelier/torch-compile`` in
    the user's cache folder (``%LOCALAPPDATA%``, ``~/Library/Caches``, ``$XDG_CACHE_HOME`` or
    ``~/.cache``); created here, or a ``bad_request`` naming the variable."""
    chosen = os.environ.get(COMPILE_CACHE_ENV, "").strip()
    fix = (f"set {COMPILE_CACHE_ENV} to an absolute folder you can write to, or {COMPILE_ENV}=0 to run "
           "without compiling; then restart the backend")
    try:  # "~user" of no such user, or no home folder at all (a container without HOME)
        folder = Path(chosen).expanduser() if chosen else _user_cache() / "atelier" / "torch-compile"
    except RuntimeError as exc:
        raise TaskError("bad_request", f"cannot find the compile cache folder: {exc}", hint=fix) from None
    if not folder.is_absolute():
        # The backend runs in the extension's folder: a relative cache would land there and go
        # with the next update of the extension.
        raise TaskError("bad_request", f"{COMPILE_CACHE_ENV}={short(chosen)} is a relative path", hint=fix)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TaskError("bad_request", f"cannot create the compile cache folder {folder}: "
                        f"{exc.strerror or exc}", hint=fix) from None
    return folder.resolve()


def _user_cache() -> Path:
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def use_cache(folder: Path) -> None:
    """Make inductor (and Triton, which it places under it) keep compiled code in ``folder``.
    Inductor reads the variable whenever it looks for its cache, so setting it before the first
    compile is enough."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


def compile_module(module, mode: str, backend: str = "inductor") -> None:
    """Compile ``module``'s forward in place with static shapes (once: a second call does nothing).
    ``mode`` is inductor's (other backends take none)."""
    import torch

    if is_compiled(module):
        return
    # Every size, guidance on or off and dtype (SDXL's VAE decodes in fp32) is one more compiled
    # version of the same forward; past dynamo's limit (8) a new one would silently run eager.
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, RECOMPILE_LIMIT)
    options = {"mode": mode} if backend == "inductor" else {}
    compiled = torch.compile(module.forward, backend=backend, dynamic=False, **options)
    module.forward = compiled
    object.__setattr__(module, _COMPILED, set())
    _ALIVE.add(module)
    torch.compiler.set_stance("eager_on_recompile")


def is_compiled(module) -> bool:
    """Whether ``module`` runs a forward compiled by ``compile_module``."""
    return module is not None and getattr(module, _COMPILED, None) is not None


def uncompile(module) -> None:
    """Give ``module`` its eager forward back (after a compile that failed)."""
    if is_compiled(module):
        del module.forward
        object.__delattr__(module, _COMPILED)


def release(dropped) -> bool:
    """Free the compiled code of models that are dropped (``dropped``: pipelines or modules):
    dynamo keeps compiled graphs, and on CUDA the memory pools of their CUDA graphs, until it is
    reset, long after the models are gone. Resetting forgets all compiled code, so any compiled
    model still loaded warms up again at its next job. CUDA graphs belong to the thread that
    recorded them and only that thread's are freed: the backends run every job, and every
    unload, on one thread. Returns whether anything was compiled."""
    if not any(_holds_compiled(item) for item in dropped):
        return False
    import torch

    torch.compiler.reset()
    for module in list(_ALIVE):
        if is_compiled(module):
            warmed(module).clear()
    return True


def _holds_compiled(item) -> bool:
    from torch import nn

    parts = [item, *(getattr(item, "components", None) or {}).values()]
    modules = (module for part in parts if isinstance(part, nn.Module) for module in part.modules())
    return any(is_compiled(module) for module in modules)


def warmed(module) -> set:
    """The shapes ``module`` ran at since it was compiled (filled by the warm-up)."""
    return getattr(module, _COMPILED)


@contextlib.contextmanager
def compiling_allowed():
    """Compiled models may compile for new shapes inside the block (outside, they run eager)."""
    import torch

    with torch.compiler.set_stance("default"):
        yield


@contextlib.contextmanager
def eager():
    """Compiled models run their eager code inside the block (for calls that patch modules,
    such as seamless tiling: a patched module would otherwise compile again at every call)."""
    import torch

    with torch.compiler.set_stance("force_eager"):
        yield
