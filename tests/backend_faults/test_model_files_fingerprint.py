"""The model cache's view of a model's files, in process: a warm model is reused while its files
are unchanged, loaded again when one changed, and a damaged weights file is named before any
library reads it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from backend.model_cache import ModelCache
from backend.model_files import check_weights, fingerprint, model_files, safetensors_problem
from backend.models import LocatedModel, locate
from core.errors import TaskError


@pytest.fixture
def model(tiny_text_model, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_text_model, tmp_path / "model"))


def load_counting(cache: ModelCache, folder: Path | str, builds: list) -> None:
    """Ask ``cache`` for ``folder`` (or a hub id); a build appends to ``builds`` instead of
    loading anything."""
    cache.get_or_load(("text", str(folder), "cpu", "float32", False),
                      lambda: locate(str(folder), allow_network=False, kind="text"),
                      lambda located: builds.append(located) or object())


def test_a_warm_model_is_reused_while_its_files_are_unchanged(model):
    cache, builds = ModelCache(), []
    for _ in range(3):
        load_counting(cache, model, builds)
    assert len(builds) == 1


def test_a_weights_file_replaced_by_another_loads_the_model_again(model):
    """Same size, same name, new contents: the modification time tells."""
    cache, builds = ModelCache(), []
    load_counting(cache, model, builds)
    weights = model / "model.safetensors"
    stamp = weights.stat()
    shutil.copyfile(weights, model / "copy")
    os.replace(model / "copy", weights)
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    load_counting(cache, model, builds)
    assert len(builds) == 2


def test_a_config_edited_loads_the_model_again(model):
    cache, builds = ModelCache(), []
    load_counting(cache, model, builds)
    with open(model / "config.json", "a") as config:
        config.write("\n")
    load_counting(cache, model, builds)
    assert len(builds) == 2


def test_a_deleted_folder_fingerprints_empty_and_is_missing(model):
    cache, builds = ModelCache(), []
    load_counting(cache, model, builds)
    before = fingerprint(builds[0])
    assert any(path.endswith("model.safetensors") for path, *_ in before)
    shutil.rmtree(model)
    assert fingerprint(builds[0]) == ()
    with pytest.raises(TaskError) as caught:
        load_counting(cache, model, builds)
    assert caught.value.code == "model_missing" and str(model) in caught.value.message
    assert cache.located_any(str(model)) is None, "the entry of a deleted model was kept"


@pytest.mark.parametrize("damage, says", [
    (lambda data: data[: len(data) // 2], "incomplete metadata"),
    (lambda data: data + b"\0", "incomplete metadata"),
    (lambda data: b"\xff" * 8 + data[8:], "header too large"),
    (lambda data: data[:4], "header too small"),
])
def test_a_damaged_safetensors_file_is_named_before_loading(model, damage, says):
    weights = model / "model.safetensors"
    assert safetensors_problem(weights) == ""
    weights.write_bytes(damage(weights.read_bytes()))
    assert says in safetensors_problem(weights)
    with pytest.raises(TaskError) as caught:
        load_counting(ModelCache(), model, [])
    assert caught.value.code == "model_invalid", caught.value
    assert f"weights file {weights} is damaged or truncated" in caught.value.message
    assert "save_pretrained" in caught.value.hint and "replace that file" in caught.value.hint


def test_a_damaged_hub_snapshot_says_how_to_download_it_again(model):
    (model / "model.safetensors").write_bytes(b"")
    snapshot = LocatedModel(str(model), "0" * 40, is_local=False)
    with pytest.raises(TaskError) as caught:
        check_weights(snapshot, "Qwen/Qwen2.5-1.5B-Instruct")
    assert "`python -m backend download Qwen/Qwen2.5-1.5B-Instruct`" in caught.value.hint, caught.value


def flipped_last_byte(path: Path) -> bytes:
    """The contents of ``path`` with its last byte changed: same size, still a valid file."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("in_place", [True, False], ids=["rewritten-in-place", "replaced"])
def test_a_copy_that_kept_size_and_time_loads_the_model_again(model, tmp_path, in_place):
    """``cp -p`` of another file of the same size: size and modification time are as before;
    a file rewritten in place has a new change time, a file put in its place a new inode."""
    cache, builds = ModelCache(), []
    load_counting(cache, model, builds)
    weights = model / "model.safetensors"
    stamp = weights.stat()
    other = tmp_path / "other.safetensors"
    other.write_bytes(flipped_last_byte(weights))
    os.utime(other, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    time.sleep(0.02)  # past the file system clock's tick: a real copy comes well after the load
    if in_place:
        shutil.copy2(other, weights)  # opens the existing file: same inode
    else:
        shutil.copy2(other, model / "incoming")
        os.replace(model / "incoming", weights)
    after = weights.stat()
    assert (after.st_size, after.st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    assert (after.st_ino == stamp.st_ino) == in_place
    load_counting(cache, model, builds)
    assert len(builds) == 2, "a weights file with other contents kept the warm model"


@pytest.fixture
def linked_model(tiny_text_model, tmp_path) -> Path:
    """A model folder whose ``unet`` component is a link to another folder (``../other/unet``),
    with a link back up to the model itself inside it."""
    model = tmp_path / "linked"
    model.mkdir()
    shutil.copy2(tiny_text_model / "config.json", model / "config.json")
    shutil.copytree(tiny_text_model, tmp_path / "other" / "unet")
    (model / "unet").symlink_to(Path("..", "other", "unet"))
    (tmp_path / "other" / "unet" / "up").symlink_to(model)  # a loop the walk must not follow
    return model


def test_a_linked_component_folder_is_checked_and_fingerprinted(linked_model):
    weights = linked_model / "unet" / "model.safetensors"
    assert weights in model_files(linked_model)
    assert len(model_files(linked_model)) == len(set(map(os.path.realpath, model_files(linked_model))))
    cache, builds = ModelCache(), []
    load_counting(cache, linked_model, builds)
    weights.write_bytes(flipped_last_byte(weights) + b"\0")  # a damaged file behind the link
    with pytest.raises(TaskError) as caught:
        load_counting(cache, linked_model, builds)
    assert caught.value.code == "model_invalid", caught.value
    assert f"weights file {weights} is damaged or truncated" in caught.value.message
    assert len(builds) == 1


HUB_ID = "atelier-test/tiny-text"
FIRST, SECOND = "1" * 40, "2" * 40


def test_a_newer_hub_revision_downloaded_while_warm_is_loaded(tiny_text_model, tmp_path, monkeypatch):
    """A warm hub id answers from the snapshot its cache ref names now, not the one it loaded."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / f"models--{HUB_ID.replace('/', '--')}"
    shutil.copytree(tiny_text_model, repo / "snapshots" / FIRST)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(FIRST)
    cache, builds = ModelCache(), []
    for _ in range(2):
        load_counting(cache, HUB_ID, builds)
    assert [located.revision for located in builds] == [FIRST]

    shutil.copytree(tiny_text_model, repo / "snapshots" / SECOND)  # what a download leaves
    (repo / "refs" / "main").write_text(SECOND)
    load_counting(cache, HUB_ID, builds)
    assert [located.revision for located in builds] == [FIRST, SECOND]
    assert cache.located_any(HUB_ID).path_or_id == str(repo / "snapshots" / SECOND)
