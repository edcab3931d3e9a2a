"""Task registry: request type -> module that serves it.

Modules are imported only when a job of their type runs, so ``hello`` stays fast. Each module
exposes ``run(request, job: JobContext) -> TaskOutput``.
"""

from __future__ import annotations

import importlib
import importlib.util

from core.errors import TaskError

TASKS = {"texture": ".texture", "refine": ".refine", "inpaint": ".inpaint", "upscale": ".upscale",
         "palette": ".palette", "ideas": ".ideas", "maps": ".maps", "doctor": ".doctor",
         "models": ".models", "download": ".download", "delete_model": ".delete_model",
         "project": ".project", "restyle": ".restyle"}


def available() -> list[str]:
    """Request types whose task module is installed (found without importing it)."""
    return [kind for kind, module in TASKS.items() if importlib.util.find_spec(module, __name__) is not None]


def get_runner(kind: str):
    """The ``run`` function of the task module for request type ``kind``."""
    if kind not in available():
        raise TaskError("bad_request", f"this backend has no {kind!r} task installed",
                        hint=f"it serves: {', '.join(available())}; update the backend")
    return importlib.import_module(TASKS[kind], __name__).run
