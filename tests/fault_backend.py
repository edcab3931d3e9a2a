"""``python tests/fault_backend.py serve …``: the real backend with test-only faults armed.

Run in the extension folder like ``python -m backend``. Faults are chosen by environment
variables the test sets; none of this ships with the extension.

- ``FAULT_OOM_PROMPT``: a texture job whose prompt equals this value raises torch's
  ``OutOfMemoryError`` at its first denoising step (where a real GPU would run out), so the
  out-of-memory path is tested without filling a device.
"""

import os
import runpy
import sys
from pathlib import Path

FAULT_OOM_PROMPT = "FAULT_OOM_PROMPT"



def _arm_out_of_memory(prompt: str) -> None:
    import backend.tasks  # cheap: task modules load on first use, torch with them

    find_runner = backend.tasks.get_runner

    def get_runner(kind: str):
        run = find_runner(kind)
        if kind != "texture":
            return run

        def run_with_fault(request, job):
            if request.prompt == prompt:
                def progress(*_args, **_kwargs):
                    import torch

                    raise torch.OutOfMemoryError(f"fault {FAULT_OOM_PROMPT}: simulated out of memory")

                job.progress = progress  # the first step reports progress: it fails there
            return run(request, job)

        return run_with_fault

    backend.tasks.get_runner = get_runner


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the extension folder
    if os.environ.get(FAULT_OOM_PROMPT):
        _arm_out_of_memory(os.environ[FAULT_OOM_PROMPT])
    sys.argv = ["python -m backend", *sys.argv[1:]]
    runpy.run_module("backend", run_name="__main__", alter_sys=True)
