"""A download through the served backend from the hub stand-in: bytes progress, only the files
Atelier loads, the cache and Atelier's record afterwards, and the model usable offline."""

from __future__ import annotations

import json

from model_downloads import TINY_ID, cache_paths, result_of

from core.results import DownloadResult, ModelsResult


def test_download_reports_bytes_and_caches_the_model(served, hub, hf_home, tiny_sd_files):
    backend = served()
    backend.send({"type": "download", "id": "dl", "model": TINY_ID})
    events = backend.events_for("dl")
    assert [e["type"] for e in events[:1]] == ["accepted"] and events[-1]["type"] == "result", events[-1]
    progress = [e for e in events if e["type"] == "progress"]
    total = sum(len(data) for data in tiny_sd_files.values())
    assert {e["total"] for e in progress} == {total}
    steps = [e["step"] for e in progress]
    assert steps == sorted(steps) and steps[-1] == total and steps[0] < total
    assert any(e["stage"] == "downloading unet/diffusion_pytorch_model.safetensors" for e in progress)
    result = result_of(events[-1], "download")
    assert isinstance(result, DownloadResult)
    commit = hub.repos[TINY_ID].commit
    assert (result.model, result.revision, result.files, result.bytes) == (TINY_ID, commit, 10, total)
    assert result.atelier and result.commercial_use and result.licence == "apache-2.0"
    snapshot = hf_home / "hub" / "models--atelier-test--tiny-sd" / "snapshots" / commit
    assert {str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()} == set(tiny_sd_files)
    assert (snapshot.parent.parent / "refs" / "main").read_text() == commit
    assert not [p for p in cache_paths(hf_home) if p.endswith(".incomplete")]
    record = json.loads((hf_home / "atelier-downloads.json").read_text())["downloads"]
    assert [(e["model"], e["revision"], e["cache"]) for e in record] == \
        [(TINY_ID, commit, str(hf_home / "hub"))]

    listed = backend.request({"type": "models", "id": "list"})
    models = result_of(listed, "models")
    assert isinstance(models, ModelsResult)
    row = next(row for row in models.models if row.id == TINY_ID)
    assert row.kind == "other" and [(r.revision, r.refs, r.atelier) for r in row.revisions] == \
        [(commit, ("main",), True)]
    assert row.revisions[0].size_bytes == total


def test_only_the_files_atelier_loads_are_fetched(served, hub, tiny_sd_files):
    """Pickle copies, 16-bit copies of full-precision weights, a top-level single-file checkpoint
    and files of other kinds stay on the hub; a 16-bit file with no full-precision twin comes."""
    extra = {"unet/diffusion_pytorch_model.bin": b"pickle",
             "unet/diffusion_pytorch_model.fp16.safetensors": b"h",
             "v1-5-pruned.safetensors": b"checkpoint", "README.md": b"# card", "preview.png": b"png",
             "vae/diffusion_pytorch_model.onnx": b"onnx", "extra/weights.fp16.safetensors": b"only",
             "extra/config.json": b"{}"}
    hub.add("atelier-test/variants", {**tiny_sd_files, **extra})
    final = served().request({"type": "download", "id": "dl", "model": "atelier-test/variants"})
    assert final["type"] == "result", final
    fetched = set(hub.files_asked("atelier-test/variants"))
    assert fetched == set(tiny_sd_files) | {"extra/weights.fp16.safetensors", "extra/config.json"}
    assert final["data"]["skipped"] == 6


def test_a_downloaded_model_makes_textures_offline(served, start_backend, hub, online, texture_request):
    assert served().request({"type": "download", "id": "dl", "model": TINY_ID})["type"] == "result"
    offline = start_backend(env={**online, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert offline.next_event()["type"] == "hello"
    asked = len(hub.asked)
    final = offline.request(texture_request(model=TINY_ID, steps=1))
    assert final["type"] == "result", final
    assert final["metadata"]["model"] == TINY_ID
    assert final["metadata"]["revision"] == hub.repos[TINY_ID].commit
    assert len(hub.asked) == asked  # nothing was asked of the hub


def test_the_record_lives_in_atelier_state_dir_when_set(served, hub, hf_home, tmp_path):
    state = tmp_path / "state"
    backend = served(ATELIER_STATE_DIR=str(state))
    commit = backend.request({"type": "download", "id": "dl", "model": TINY_ID})["data"]["revision"]
    assert not (hf_home / "atelier-downloads.json").exists()
    assert json.loads((state / "atelier-downloads.json").read_text())["downloads"][0]["revision"] == commit
    deleted = backend.request({"type": "delete_model", "id": "rm", "model": TINY_ID, "revision": commit})
    assert deleted["type"] == "result", deleted


def test_downloading_again_fetches_nothing_and_keeps_the_record(served, hub, hf_home):
    backend = served()
    assert backend.request({"type": "download", "id": "one", "model": TINY_ID})["type"] == "result"
    gets = [path for method, path in hub.asked if method == "GET" and "/resolve/" in path]
    again = backend.request({"type": "download", "id": "two", "model": TINY_ID})
    assert again["type"] == "result" and again["data"]["atelier"] is False, again
    assert [path for method, path in hub.asked if method == "GET" and "/resolve/" in path] == gets
    record = json.loads((hf_home / "atelier-downloads.json").read_text())["downloads"]
    assert len(record) == 1


def test_a_commit_revision_is_downloaded_without_moving_a_branch(served, hub, hf_home):
    commit = hub.repos[TINY_ID].commit
    final = served().request({"type": "download", "id": "dl", "model": TINY_ID, "revision": commit})
    assert final["type"] == "result" and final["data"]["revision"] == commit, final
    repo = hf_home / "hub" / "models--atelier-test--tiny-sd"
    assert (repo / "snapshots" / commit / "model_index.json").is_file()
    assert not (repo / "refs").exists()
