"""Deleting a cached revision: only one Atelier downloaded (its record says so), and only that one."""

from __future__ import annotations

import json
import shutil

from model_downloads import TINY_ID, put_in_cache, result_of

from core.results import DeleteModelResult


def _record(hf_home) -> list:
    return json.loads((hf_home / "atelier-downloads.json").read_text())["downloads"]


def test_a_revision_atelier_downloaded_is_deleted_and_others_stay(served, hub, hf_home, tiny_sd_model,
                                                                   tiny_sd_files):
    other = put_in_cache(hf_home, TINY_ID, tiny_sd_model)  # an older revision another tool fetched
    backend = served()
    downloaded = backend.request({"type": "download", "id": "dl", "model": TINY_ID})
    commit = downloaded["data"]["revision"]
    repo = hf_home / "hub" / "models--atelier-test--tiny-sd"
    final = backend.request({"type": "delete_model", "id": "rm", "model": TINY_ID, "revision": commit})
    assert final["type"] == "result", final
    result = result_of(final, "delete_model")
    assert isinstance(result, DeleteModelResult)
    assert (result.model, result.revision) == (TINY_ID, commit)
    assert result.freed_bytes == sum(len(data) for data in tiny_sd_files.values())
    assert not (repo / "snapshots" / commit).exists() and (repo / "snapshots" / other).is_dir()
    assert _record(hf_home) == []
    listed = backend.request({"type": "models", "id": "list"})["data"]["models"]
    # The model is no longer Atelier's download, so only the catalog would list it: it is not there.
    assert TINY_ID not in [row["id"] for row in listed]


def test_a_revision_put_in_the_cache_by_other_means_is_not_deleted(served, hub, hf_home, tiny_sd_model):
    revision = put_in_cache(hf_home, "someone/else", tiny_sd_model)
    backend = served()
    final = backend.request({"type": "delete_model", "id": "rm", "model": "someone/else",
                             "revision": revision})
    assert final["type"] == "error" and final["code"] == "bad_request", final
    assert final["message"] == (f"Atelier did not download revision {revision[:12]} of someone/else, "
                                "so it does not delete it")
    assert "hf cache delete" in final["hint"]
    assert (hf_home / "hub" / "models--someone--else" / "snapshots" / revision).is_dir()


def test_a_recorded_revision_already_gone_from_the_cache_leaves_the_record(served, hub, hf_home):
    backend = served()
    commit = backend.request({"type": "download", "id": "dl", "model": TINY_ID})["data"]["revision"]
    shutil.rmtree(hf_home / "hub" / "models--atelier-test--tiny-sd")  # e.g. `hf cache delete`
    final = backend.request({"type": "delete_model", "id": "rm", "model": TINY_ID, "revision": commit})
    assert final["type"] == "error" and final["code"] == "model_missing", final
    assert _record(hf_home) == []


def test_a_revision_must_be_a_commit_hash(served, hub):
    final = served().request({"type": "delete_model", "id": "rm", "model": TINY_ID, "revision": "main"})
    assert final["type"] == "error" and final["code"] == "bad_request", final
    assert final["message"] == "'main' is not a commit hash"


def test_the_same_commit_under_another_repository_folder_stays(served, hub, hf_home, tiny_sd_model):
    """huggingface_hub's own deletion matches a commit in every repository; Atelier deletes it
    only in the folder of the model it downloaded."""
    commit = hub.repos[TINY_ID].commit
    for other in ("someone/fork", "Atelier-Test/tiny-sd"):  # a fork, and the same id in other case
        put_in_cache(hf_home, other, tiny_sd_model, revision=commit)
    backend = served()
    assert backend.request({"type": "download", "id": "dl", "model": TINY_ID})["type"] == "result"
    final = backend.request({"type": "delete_model", "id": "rm", "model": TINY_ID, "revision": commit})
    assert final["type"] == "result", final
    hub_cache = hf_home / "hub"
    assert not (hub_cache / "models--atelier-test--tiny-sd" / "snapshots" / commit).exists()
    for folder in ("models--someone--fork", "models--Atelier-Test--tiny-sd"):
        assert (hub_cache / folder / "snapshots" / commit / "model_index.json").is_file()
