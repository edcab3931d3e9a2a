"""Result files written whole or not at all, with a failure to write said plainly.

Every file a task writes into its job folder goes through ``write_file``: a full disk, a
file-size limit or a folder that stopped being writable becomes a ``write_failed`` error naming
the file and the system's reason (not an ``internal`` bug report), and a partly written file is
removed so nothing half-made is ever read. A file that is already there is no fault of the
disk: each job writes each of its files once into a folder of its own, so a clash of names is
a bug in Atelier, reported as ``internal`` (the existing file is left as it was).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from core.errors import TaskError

WRITE_HINT = ("free space on the drive that holds Atelier's jobs folder, or make that folder "
              "writable; nothing was applied, and the next job can run")
BUG_HINT = "this is a bug in Atelier's backend; nothing was applied, and the next job can run"


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` in one go; ``write_failed`` if it cannot be."""
    created = False
    try:
        with open(path, "xb") as handle:  # a job writes each of its files once
            created = True
            handle.write(data)
    except FileExistsError:
        raise TaskError("internal", f"the result file {path} already exists: two files of one job "
                        "were given the same name", hint=BUG_HINT) from None
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise TaskError("write_failed", f"cannot write {path}: {exc.strerror or exc}",
                        hint=WRITE_HINT) from None
