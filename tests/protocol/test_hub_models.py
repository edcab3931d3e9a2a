"""Models named by Hugging Face id come from the local cache, with their revision recorded."""

from __future__ import annotations

import shutil

REVISION = "0123456789abcdef0123456789abcdef01234567"


def test_hub_id_loads_from_the_cache_and_records_the_revision(backend, texture_request, tiny_sd, hub_cache):
    repo = hub_cache / "models--atelier-test--tiny-sd"
    shutil.copytree(tiny_sd, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)

    final = backend.request(texture_request(model="atelier-test/tiny-sd"))
    assert final["type"] == "result", final
    assert final["metadata"]["model"] == "atelier-test/tiny-sd"
    assert final["metadata"]["revision"] == REVISION
    assert final["metadata"]["model_source"].endswith(f"snapshots/{REVISION}")


def test_default_model_offline_says_how_to_get_it(backend, texture_request):
    final = backend.request(texture_request(model=""))
    assert final["type"] == "error" and final["code"] == "model_missing", final
    assert "stabilityai/sd-turbo" in final["message"]
    assert "hf download stabilityai/sd-turbo" in final["hint"]


def test_network_allowed_is_still_offline_under_hf_hub_offline(backend, texture_request):
    final = backend.request(texture_request(model="nobody-here/no-model", allow_network=True))
    assert final["code"] == "model_missing", final
    assert "HF_HUB_OFFLINE" in final["hint"]  # the switch that keeps downloads off


def test_a_model_downloaded_on_first_use_records_its_snapshot_and_revision(tiny_sd, tmp_path, monkeypatch):
    """A hub id not yet cached is downloaded by ``from_pretrained``; once it has landed in the
    cache, the record names the snapshot and commit as for any cached model."""
    import huggingface_hub.constants

    from backend.model_cache import ModelCache
    from backend.models import LocatedModel

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--atelier-test--fetched"

    def download_and_load(located):  # what from_pretrained does with a hub id and the network
        shutil.copytree(tiny_sd, repo / "snapshots" / REVISION)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(REVISION)
        return "pipeline"

    fetched = LocatedModel("atelier-test/fetched", None, False)  # as located with the network on
    built, located = ModelCache().get_or_load(("texture", "atelier-test/fetched"), lambda: fetched,
                                              download_and_load)
    assert built == "pipeline" and located.revision == REVISION
    assert located.path_or_id == str(repo / "snapshots" / REVISION)
