"""The backend as a command: ``python -m backend …`` in the extension folder, offline, with
only the settings a test names (none leak in from the environment the suite runs in)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the extension folder: `python -m backend` runs here


def backend_environment(extra: dict | None = None) -> dict:
    """This process's environment without Atelier's variables, offline, on one torch thread as
    the tests' own torch is (results compared with a direct call must not differ by threads),
    plus ``extra``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("ATELIER_")}
    return {**clean, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(extra or {})}


def run_backend(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one backend command to its end; stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=backend_environment(env))
