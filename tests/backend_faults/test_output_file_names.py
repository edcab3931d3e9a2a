"""A result file whose name is already taken in the job's folder is a bug in Atelier (each job
writes each of its files once, into a folder of its own), never a full disk: it is reported as
``internal``, and the file that was there is left as it was."""

from __future__ import annotations

import pytest

from backend.output_files import write_file
from core.errors import TaskError


def test_a_file_written_twice_is_a_bug_not_a_full_disk(tmp_path):
    path = tmp_path / "base_color.png"
    write_file(path, b"first")
    with pytest.raises(TaskError) as caught:
        write_file(path, b"second")
    assert caught.value.code == "internal", caught.value.message
    assert f"the result file {path} already exists" in caught.value.message
    assert "bug" in caught.value.hint and "free space" not in caught.value.hint
    assert path.read_bytes() == b"first"


def test_a_new_file_is_written_whole(tmp_path):
    write_file(tmp_path / "normal.png", b"\x89PNG data")
    assert (tmp_path / "normal.png").read_bytes() == b"\x89PNG data"
