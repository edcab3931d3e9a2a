"""Job folders (``client/job_folder.py``) when the system does not play along: a file system that
cannot lock (NFS without its lock daemon), a folder made but its lock file not (too many open
files, disk full), and the sweep of a new session's first job, which runs on a thread of its own
and never takes a folder this session is making."""

from __future__ import annotations

import errno
import os
import threading

import pytest


def raising(number: int):
    """A stand-in for a system call that fails with ``number``."""
    def fail(*_args, **_kwargs):
        raise OSError(number, os.strerror(number))
    return fail


def test_a_file_system_that_cannot_lock_still_makes_folders_no_sweep_takes(addon, tmp_path, monkeypatch):
    job_folder = addon.client.job_folder
    root = tmp_path / "jobs"
    job_folder.create(root, "first").remove()  # this session's sweep of ``root``, with locks working
    job_folder.sweep_of(root).join()
    monkeypatch.setattr(job_folder.fcntl, "flock", raising(errno.ENOLCK))
    folder = job_folder.create(root, "unlocked")  # not "removed as it was made": it works
    (folder.path / "base_color.png").write_bytes(b"png")
    assert job_folder.sweep(root) == [] and folder.path.is_dir()  # nothing says its session is dead
    folder.remove()
    assert not folder.path.exists()


@pytest.mark.parametrize("number", [errno.EWOULDBLOCK, errno.EACCES])
def test_a_lock_another_process_holds_still_means_a_live_session(addon, tmp_path, monkeypatch, number):
    job_folder = addon.client.job_folder
    root = tmp_path / "jobs"
    job_folder.create(root, "first").remove()
    job_folder.sweep_of(root).join()
    monkeypatch.setattr(job_folder.fcntl, "flock", raising(number))
    with pytest.raises(job_folder.JobFolderError, match="was removed as it was made"):
        job_folder.create(root, "held")


@pytest.mark.parametrize(("number", "said"), [
    (errno.EMFILE, "too many open files; close other programs or raise the limit of open files"),
    (errno.ENOSPC, "No space left on device; check that Atelier's user folder can be written"),
    (errno.EDQUOT, "Disk quota exceeded; check that Atelier's user folder can be written"),
])
def test_a_folder_whose_lock_cannot_be_made_is_not_left(addon, tmp_path, monkeypatch, number, said):
    job_folder = addon.client.job_folder
    root = tmp_path / "jobs"
    monkeypatch.setattr(job_folder._Lock, "claim", raising(number))
    with pytest.raises(job_folder.JobFolderError, match=said):
        job_folder.create(root, "nolock")
    job_folder.sweep_of(root).join()
    assert os.listdir(root) == []  # no lock file in it, so no sweep would ever have removed it


def test_the_first_jobs_sweep_runs_on_a_thread_of_its_own(addon, tmp_path, monkeypatch):
    job_folder = addon.client.job_folder
    ran_on = []
    monkeypatch.setattr(job_folder, "sweep", lambda root: ran_on.append(threading.current_thread()))
    root = tmp_path / "jobs"
    folder = job_folder.create(root, "first")
    sweep = job_folder.sweep_of(root)
    sweep.join()
    assert ran_on == [sweep] and sweep is not threading.main_thread() and sweep.daemon
    job_folder.create(root, "second").remove()  # once per session and jobs folder
    assert len(ran_on) == 1
    folder.remove()


def test_the_sweep_never_takes_a_folder_this_session_is_making(addon, tmp_path, monkeypatch):
    """The sweep runs beside ``create``: between the lock file's creation and its locking it
    would find a free lock and remove the new folder, were it not kept out until then."""
    job_folder = addon.client.job_folder
    root = tmp_path / "jobs"
    job_folder.create(root, "first").remove()
    job_folder.sweep_of(root).join()
    locked, sweeps = job_folder._Lock._locked, []

    def sweep_meanwhile(lock):
        if not sweeps:  # the new folder's lock file exists, not yet locked
            sweeps.append(threading.Thread(target=job_folder.sweep, args=(root,)))
            sweeps[0].start()
            sweeps[0].join(0.5)  # as long as it may take to remove the folder, when let in
        return locked(lock)

    monkeypatch.setattr(job_folder._Lock, "_locked", sweep_meanwhile)
    folder = job_folder.create(root, "new")
    sweeps[0].join()
    assert (folder.path / job_folder.LOCK_NAME).is_file()
    folder.remove()
