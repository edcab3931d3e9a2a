"""One folder per job, made by the client: the only place a result's files may come from.

The client makes ``<jobs>/<request id>/`` itself (new, never an existing one), sends it as the
request's ``output_dir``, reads result files only from inside it (``core.results.inside``) and
in the end removes that folder and nothing else. A result naming any other path is refused, so
a backend can never make Blender read or delete a file the client did not make.

A Blender that crashes cannot remove its folders, so each one holds a lock file (``LOCK_NAME``)
that the Blender which made it keeps locked while it lives (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows; the system drops the lock when the process ends, however it
ends). The first job of every Blender session sweeps the jobs folder (``sweep``, on a thread of
its own so Blender's main thread never waits for it): a folder whose lock file can be locked
belongs to a session that no longer runs, and is removed. A folder with no lock file (not made
here, or made by an older Atelier), a link, a file, or a folder whose lock is held (a live
Blender's) is never touched. On a file system that cannot lock at all (NFS without its lock
daemon) a folder is made without a lock: it works, and no sweep ever removes it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import threading
from pathlib import Path

from ..core import protocol

if os.name == "nt":
    import msvcrt
else:
    import fcntl

# What the protocol accepts as an id, and only characters a folder name can hold as they are.
_SAFE_ID = re.compile(rf"^[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{protocol.MAX_ID_CHARS - 1}}}$")
# Held locked in every job folder while the session that made it runs. No request id (so no
# file the backend names after its job) starts with a dot, so it never meets a backend's file.
LOCK_NAME = ".atelier-job-lock"

# The sweep of each jobs folder this session has begun (once each, at its first job).
_sweeps: dict[Path, threading.Thread] = {}
# Held by ``create`` from making a folder until its lock is taken, and by ``sweep`` while it takes
# a folder's lock: this session's own sweep never takes a folder whose lock is not yet held.
_making = threading.Lock()
# What the system says when another process holds a lock (Windows: EACCES, or EDEADLOCK once its
# retries run out); any other error means that locks do not work there at all.
_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES} | ({errno.EDEADLOCK} if os.name == "nt" else set())


class JobFolderError(Exception):
    """The job's folder cannot be made; the message says what to change."""


class JobFolder:
    """A folder this client made for one job; ``remove`` deletes it (once) and nothing else."""

    def __init__(self, path: Path, lock: _Lock | None = None) -> None:
        self.path = path
        self._device_inode = _identity(path)
        self._lock = lock  # says "a live session owns this folder" until the folder goes

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    @property
    def removed(self) -> bool:
        return self._device_inode is None

    def remove(self) -> None:
        """Delete the folder and what lies inside it. Only the very folder made here: a folder
        swapped in under the same name (or a link) is left alone. Safe to call twice."""
        made, self._device_inode = self._device_inode, None
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()  # first: Windows deletes no file that is open
        if made is None or _identity(self.path) != made:
            return
        shutil.rmtree(self.path, ignore_errors=True)  # never follows links inside it


def create(root: str | Path, request_id: str) -> JobFolder:
    """Make ``<root>/<request_id>/`` for a new job (the root is created when missing), locked
    as this session's; the first call for a root starts the sweep of the folders crashed
    sessions left (``sweep_of`` returns it)."""
    if not _SAFE_ID.match(request_id):
        raise JobFolderError(f"request id {request_id!r} cannot name a job folder; "
                             "use letters, digits, '-', '_' and '.'")
    base = Path(root).expanduser()
    if not base.is_absolute():
        raise JobFolderError(f"the jobs folder {str(root)!r} is not an absolute path")
    path = base / request_id
    try:
        base.mkdir(parents=True, exist_ok=True)
        base = base.resolve()
        path = base / request_id
        _start_sweep(base)
        with _making:
            os.mkdir(path, 0o700)  # exclusive: an existing folder (or file, or link) is an error
            try:
                lock = _Lock.claim(path / LOCK_NAME)
            except OSError:
                _remove_empty(path)  # no lock file in it, so no sweep would ever remove it
                raise
    except FileExistsError:
        raise JobFolderError(f"a job folder {str(path)!r} already exists; "
                             "run the job again (it gets a new id)") from None
    except OSError as exc:
        reason = "too many open files" if exc.errno == errno.EMFILE else exc.strerror
        advice = ("close other programs or raise the limit of open files (ulimit -n)"
                  if exc.errno == errno.EMFILE else "check that Atelier's user folder can be written")
        raise JobFolderError(f"cannot make a job folder in {str(base)!r}: {reason}; {advice}") from None
    if lock is None:  # another Blender's sweep took it for a dead session's as it was made
        raise JobFolderError(f"the job folder {str(path)!r} was removed as it was made; "
                             "run the job again (it gets a new id)")
    return JobFolder(path, lock)


def sweep_of(root: str | Path) -> threading.Thread | None:
    """The sweep this session started for the jobs folder ``root`` (``join`` waits for it to
    end), or None when no job has been made there yet."""
    return _sweeps.get(Path(root).expanduser().resolve())


def _start_sweep(base: Path) -> None:
    """Sweep ``base`` on a daemon thread, once per session: removing a crashed session's
    folders can take long, and live folders are locked, so nothing waits for it."""
    if base in _sweeps:
        return
    thread = threading.Thread(target=sweep, args=(base,), name=f"atelier-sweep {base}", daemon=True)
    _sweeps[base] = thread
    thread.start()


def _remove_empty(path: Path) -> None:
    """Remove the folder just made at ``path`` (empty, or holding only an unlocked lock file)."""
    try:
        os.unlink(path / LOCK_NAME)
    except OSError:
        pass  # never created
    try:
        os.rmdir(path)
    except OSError:
        pass  # the reason it could not be locked is the one to report


def sweep(root: str | Path) -> list[Path]:
    """Remove the job folders in ``root`` whose session no longer runs (Blender crashed or was
    killed before it could remove them); returns them. Only folders holding ``LOCK_NAME``, as
    ``create`` makes them, and only when nothing holds that lock."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    removed = []
    for entry in entries:
        if not _SAFE_ID.match(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        folder = Path(entry.path)
        made = _identity(folder)
        with _making:
            lock = _Lock.take_over(folder / LOCK_NAME)
        if lock is None:
            continue  # a live session's, or not a folder ``create`` made
        if _identity(folder) == made:
            # Held while removing, so a ``create`` racing for this name cannot take it as its
            # own; Windows deletes no open file, so the lock file itself goes once released.
            # The lock file goes last: a sweep cut short (Blender quit during it) leaves a
            # folder the next one still knows for a dead session's.
            _remove_all_but_lock(folder)
            shutil.rmtree(folder, ignore_errors=True)
            lock.release()
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        lock.release()
    return removed


def _remove_all_but_lock(folder: Path) -> None:
    """Remove what ``folder`` holds but its lock file (links are removed, never followed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # the rmtree after it tries once more


class _Lock:
    """An open lock file, locked: the sign that the session which made its folder still runs."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "r+b", buffering=0)  # closed (and unlocked) with this object

    @classmethod
    def claim(cls, path: Path) -> _Lock | None:
        """Create ``path`` and lock it; None when a sweep removed it before it was locked. Where
        the file system cannot lock, the file is held open unlocked (no sweep takes it)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, 0o600)
        lock = cls(fd)
        if lock._locked() is not False and lock._is(path):
            return lock
        lock.release()
        return None

    @classmethod
    def take_over(cls, path: Path) -> _Lock | None:
        """Lock the existing regular file ``path``; None when it is missing, is something else,
        or another process holds its lock."""
        try:
            fd = os.open(path, os.O_RDWR | _NO_FOLLOW)
        except OSError:
            return None
        lock = cls(fd)
        if stat.S_ISREG(os.fstat(fd).st_mode) and lock._locked() is True and lock._is(path):
            return lock
        lock.release()
        return None

    def release(self) -> None:
        """Unlock and close the lock file (its folder may then be swept); safe to call twice."""
        if self._file.closed:
            return
        if os.name == "nt":
            try:
                msvcrt.locking(self._file.fileno(), msvcrt.LK_UNLCK, 1)
            except OSError:
                pass  # not locked: closing is all there is to do
        self._file.close()

    def _locked(self) -> bool | None:
        """Take the lock without waiting: True when taken, False when another process (or
        another open file here) holds it, None when this file system cannot lock (ENOLCK)."""
        try:
            if os.name == "nt":
                msvcrt.locking(self._file.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            return False if exc.errno in _HELD else None
        return True

    def _is(self, path: Path) -> bool:
        """Whether ``path`` still names the file held open (a sweep may have removed it)."""
        try:
            named = os.lstat(path)
        except OSError:
            return False
        held = os.fstat(self._file.fileno())
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a link put in place of the lock file is not opened


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the directory at ``path`` itself; None for a link or anything else."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None
