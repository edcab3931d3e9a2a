"""What the sweep of a new session's first job removes: only folders Atelier made for jobs
(``client/job_folder.py``: a folder holding its lock file) whose session no longer runs (the
lock is free). A live session's folder, a folder Atelier did not make, a link, a file, and a
lock file that is a link are never touched. The crash itself, across processes:
``test_quit_crash.py``."""

from __future__ import annotations

import os


def dead_session_folder(root, name: str, lock_name: str):
    """A folder as a crashed session leaves it: made like ``job_folder.create`` makes one, with a
    result inside and its lock file, which nothing holds any more."""
    folder = root / name
    (folder / name).mkdir(parents=True)
    (folder / name / "base_color.png").write_bytes(b"png")
    (folder / lock_name).write_bytes(b"")
    return folder


def test_the_first_job_removes_dead_sessions_folders_and_nothing_else(addon, tmp_path):
    job_folder = addon.client.job_folder
    root, outside = tmp_path / "jobs", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (outside / job_folder.LOCK_NAME).write_bytes(b"")
    dead = [dead_session_folder(root, name, job_folder.LOCK_NAME) for name in ("dead1", "dead2")]
    live = job_folder.create(tmp_path / "other-jobs", "live1")  # this session's, lock held
    os.rename(live.path, root / "live1")  # now in the swept folder, still locked
    strangers = {
        "no-lock": root / "no-lock",  # a folder not made for a job (or by an older Atelier)
        "link": root / "link",  # a link to a folder that holds a free lock file
        "file": root / "file",
        "lock-is-a-link": root / "lock-is-a-link",
        "not an id": root / "not an id",
    }
    strangers["no-lock"].mkdir()
    strangers["link"].symlink_to(outside, target_is_directory=True)
    strangers["file"].write_text("x")
    strangers["lock-is-a-link"].mkdir()
    (strangers["lock-is-a-link"] / job_folder.LOCK_NAME).symlink_to(outside / job_folder.LOCK_NAME)
    dead_session_folder(root, "not an id", job_folder.LOCK_NAME)

    new = job_folder.create(root, "new1")  # the first job in this jobs folder sweeps it
    job_folder.sweep_of(root).join()  # on a thread of its own
    assert not any(folder.exists() for folder in dead)
    assert sorted(os.listdir(root)) == sorted(["live1", "new1", *strangers])
    assert (root / "live1" / job_folder.LOCK_NAME).is_file() and (outside / "keep.txt").read_text() == "mine"
    assert job_folder.sweep(root) == []  # once the dead are gone, nothing else ever goes
    new.remove()
    assert not (root / "new1").exists()
