"""The model cache's view of a model's files, in process: a warm model is reused while its files
are unchanged, loaded again when one changed, and a damaged weights file is named before any
library reads it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backend.model_cache import ModelCache
from backend.model_files import check_weights, fingerprint, safetensors_problem
from backend.models import LocatedModel, locate
from core.errors import TaskError


@pytest.fixture
def model(tiny_text_model, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_text_model, tmp_path / "model"))


def load_counting(cache: ModelCache, folder: Path, builds: list) -> None:
    """Ask ``cache`` for ``folder``; a build appends to ``builds`` instead of loading anything."""
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
