"""One folder per job, made by the client: the only place a result's files may come from.

The client makes ``<jobs>/<request id>/`` itself (new, never an existing one), sends it as the
request's ``output_dir``, reads result files only from inside it (``core.results.inside``) and
in the end removes that folder and nothing else. A result naming any other path is refused, so
a backend can never make Blender read or delete a file the client did not make.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from ..core import protocol

# What the protocol accepts as an id, and only characters a folder name can hold as they are.
_SAFE_ID = re.compile(rf"^[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{protocol.MAX_ID_CHARS - 1}}}$")


class JobFolderError(Exception):
    """The job's folder cannot be made; the message says what to change."""


class JobFolder:
    """A folder this client made for one job; ``remove`` deletes it (once) and nothing else."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._device_inode = _identity(path)

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    @property
    def removed(self) -> bool:
        return self._device_inode is None

    def remove(self) -> None:
        """Delete the folder and what lies inside it. Only the very folder made here: a folder
        swapped in under the same name (or a link) is left alone. Safe to call twice."""
        made, self._device_inode = self._device_inode, None
        if made is None or _identity(self.path) != made:
            return
        shutil.rmtree(self.path, ignore_errors=True)  # never follows links inside it


def create(root: str | Path, request_id: str) -> JobFolder:
    """Make ``<root>/<request_id>/`` for a new job (the root is created when missing)."""
    if not _SAFE_ID.match(request_id):
        raise JobFolderError(f"request id {request_id!r} cannot name a job folder; "
                             "use letters, digits, '-', '_' and '.'")
    base = Path(root).expanduser()
    if not base.is_absolute():
        raise JobFolderError(f"the jobs folder {str(root)!r} is not an absolute path")
    try:
        base.mkdir(parents=True, exist_ok=True)
        path = base.resolve() / request_id
        os.mkdir(path, 0o700)  # exclusive: an existing folder (or file, or link) is an error
    except FileExistsError:
        raise JobFolderError(f"a job folder {str(base / request_id)!r} already exists; "
                             "run the job again (it gets a new id)") from None
    except OSError as exc:
        raise JobFolderError(f"cannot make a job folder in {str(base)!r}: {exc.strerror}; "
                             "check that Atelier's user folder can be written") from None
    return JobFolder(path)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the directory at ``path`` itself; None for a link or anything else."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None
