"""The model manager's operators in real Blender with the real backend: the list of models,
downloads from the loopback hub stand-in with progress, the licence tick, deletions of what
Atelier downloaded only, and downloads refused in an offline Blender before anything is sent."""

import re

import pytest
from standin_models import NON_COMMERCIAL_ID, TINY_ID

from core import model_catalog


def listed(bpy) -> dict:
    """``{model id: [(revision, by Atelier)]}`` of the session's model list."""
    return {item.name: [(revision.name, revision.by_atelier) for revision in item.revisions]
            for item in bpy.context.window_manager.atelier.models}


def snapshots(cache, model: str) -> list[str]:
    folder = cache / ("models--" + model.replace("/", "--")) / "snapshots"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_refresh_lists_every_model_of_the_table_with_what_is_cached(bpy_module, fresh_backend, tmp_path):
    bpy = bpy_module
    assert bpy.ops.atelier.models_refresh() == {"FINISHED"}
    models = bpy.context.window_manager.atelier.models
    assert [item.name for item in models] == [entry.id for entry in model_catalog.CATALOG]
    for item, entry in zip(models, model_catalog.CATALOG, strict=True):
        assert (item.kind, item.licence) == (entry.kind, entry.licence)
        assert item.commercial_use == entry.commercial_use
        assert item.download_gb == pytest.approx(entry.download_gb)
        assert item.gpu_gib == pytest.approx(entry.gpu_gib)
        assert len(item.revisions) == 0  # the test's cache is empty
    # Session state: the list is not written into the .blend.
    saved = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    assert model_catalog.CATALOG[0].id.encode() not in saved.read_bytes()


def test_a_download_reports_progress_and_the_model_is_listed_as_cached(
        bpy_module, online, hub, models_cache, capsys):
    bpy = bpy_module
    assert bpy.ops.atelier.model_download(model=TINY_ID) == {"FINISHED"}
    commit = hub.repos[TINY_ID].commit
    assert snapshots(models_cache, TINY_ID) == [commit]
    assert (models_cache / f"models--{TINY_ID.replace('/', '--')}" / "snapshots" / commit /
            "unet" / "diffusion_pytorch_model.safetensors").is_file()
    # Progress counted the bytes of every file, up to all of them.
    steps = [tuple(map(int, found)) for found in re.findall(
        r"Atelier: Download atelier-test/tiny-sd: downloading \S+ (\d+)/(\d+)", capsys.readouterr().out)]
    total = sum(len(data) for data in hub.repos[TINY_ID].files.values())
    assert len(steps) > 3 and {t for _, t in steps} == {total}
    assert [s for s, _ in steps] == sorted(s for s, _ in steps) and steps[-1][0] == total
    # The list was refreshed after the download: the model is there, downloaded by Atelier.
    assert listed(bpy)[TINY_ID] == [(commit, True)]
    assert bpy.context.window_manager.atelier.models[TINY_ID].kind == "other"


def test_a_licence_that_restricts_commercial_use_needs_the_tick_before_anything_is_sent(
        bpy_module, online, hub, models_cache):
    bpy = bpy_module
    assert not model_catalog.find(NON_COMMERCIAL_ID).commercial_use
    with pytest.raises(RuntimeError, match=r"FLUX\.1-dev is under the FLUX\.1 \[dev\] Non-Commercial "
                                           r"License .*tick 'accept licence'.*accept_licence=True"):
        bpy.ops.atelier.model_download(model=NON_COMMERCIAL_ID)
    assert hub.asked == []  # refused in Blender: the hub was never asked
    assert snapshots(models_cache, NON_COMMERCIAL_ID) == []
    assert bpy.ops.atelier.model_download(model=NON_COMMERCIAL_ID, accept_licence=True) == {"FINISHED"}
    assert listed(bpy)[NON_COMMERCIAL_ID] == [(hub.repos[NON_COMMERCIAL_ID].commit, True)]


def test_a_licence_only_the_hub_knows_is_checked_by_the_backend(bpy_module, addon, online, hub, tiny_sd_model,
                                                                monkeypatch):
    from hub_standin import folder_files

    bpy, model = bpy_module, "atelier-test/research-only"
    hub.add(model, folder_files(tiny_sd_model), licence="cc-by-nc-4.0")
    sent = []  # the requests the operator hands to the real client
    submit = addon.client.session.submit

    def recorded_submit(client, request, **options):
        sent.append(request)
        return submit(client, request, **options)

    monkeypatch.setattr(addon.client.session, "submit", recorded_submit)
    with pytest.raises(RuntimeError, match="cc-by-nc-4.0.*must be accepted"):
        bpy.ops.atelier.model_download(model=model)
    # Blender sent it on; the backend refused after reading the hub's licence tag, before any file.
    assert hub.asked and not any("/resolve/" in path for _, path in hub.asked)
    assert bpy.ops.atelier.model_download(model=model, accept_licence=True) == {"FINISHED"}
    assert [(request.model, request.accept_licence) for request in sent if request.type == "download"] == [
        (model, False), (model, True)]
    assert listed(bpy)[model] == [(hub.repos[model].commit, True)]


def test_only_a_revision_atelier_downloaded_is_deleted(bpy_module, online, hub, models_cache,
                                                      foreign_revision):
    bpy = bpy_module
    named = re.escape(NON_COMMERCIAL_ID)
    theirs = "a" * 40
    foreign = foreign_revision(NON_COMMERCIAL_ID, theirs)
    with pytest.raises(RuntimeError, match="is not in the model list; refresh the model list first"):
        bpy.ops.atelier.model_delete(model=NON_COMMERCIAL_ID, revision=theirs)
    assert bpy.ops.atelier.model_download(model=NON_COMMERCIAL_ID, accept_licence=True) == {"FINISHED"}
    ours = hub.repos[NON_COMMERCIAL_ID].commit
    assert sorted(listed(bpy)[NON_COMMERCIAL_ID]) == sorted([(ours, True), (theirs, False)])
    with pytest.raises(RuntimeError, match=f"Revision {theirs[:12]} of {named} was not downloaded by "
                                           "Atelier, so Atelier does not delete it"):
        bpy.ops.atelier.model_delete(model=NON_COMMERCIAL_ID, revision=theirs)
    assert (foreign / "model_index.json").is_file()
    # Empty revision: the one Atelier downloaded.
    assert bpy.ops.atelier.model_delete(model=NON_COMMERCIAL_ID) == {"FINISHED"}
    assert snapshots(models_cache, NON_COMMERCIAL_ID) == [theirs] and (foreign / "model_index.json").is_file()
    assert listed(bpy)[NON_COMMERCIAL_ID] == [(theirs, False)]
    with pytest.raises(RuntimeError, match=f"Atelier downloaded no revision of {named}, and it deletes "
                                           "only what it downloaded"):
        bpy.ops.atelier.model_delete(model=NON_COMMERCIAL_ID)


def test_an_offline_blender_refuses_downloads_before_anything_is_sent(bpy_module, addon, fresh_backend,
                                                                      hub, models_cache):
    bpy = bpy_module
    assert bpy.app.online_access is False  # Blender as a module is always offline
    with pytest.raises(RuntimeError, match=r"Allow Online Access in Preferences > System > Network "
                                           r"\(blender -b: start it with --online-mode\)"):
        bpy.ops.atelier.model_download(model=TINY_ID, accept_licence=True)
    assert hub.asked == [] and snapshots(models_cache, TINY_ID) == []
    assert fresh_backend.current_client() is None or not fresh_backend.current_client().running()


def test_hf_hub_offline_in_blenders_environment_refuses_downloads(bpy_module, addon, fresh_backend, hub,
                                                                  monkeypatch):
    monkeypatch.setattr(addon.preferences, "allow_network", lambda: True)  # Blender online, but
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub switched off in its environment
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE is set in Blender's environment"):
        bpy_module.ops.atelier.model_download(model=TINY_ID)
    assert hub.asked == []


def test_a_model_that_does_not_exist_is_a_clear_error_and_the_list_stays(bpy_module, online, hub):
    bpy = bpy_module
    assert bpy.ops.atelier.models_refresh() == {"FINISHED"}
    before = listed(bpy)
    with pytest.raises(RuntimeError, match="atelier-test/nobody-here.*not found on the Hugging Face hub"):
        bpy.ops.atelier.model_download(model="atelier-test/nobody-here")
    assert listed(bpy) == before
    assert bpy.ops.atelier.models_refresh() == {"FINISHED"}  # the backend serves the next request


@pytest.mark.parametrize("operator", ["models_refresh", "model_download", "model_delete"])
def test_model_jobs_are_greyed_out_while_a_job_runs_and_without_a_backend(
        bpy_module, addon, backend_env, job_state, monkeypatch, operator):
    call = getattr(bpy_module.ops.atelier, operator)
    assert call.poll()
    job_state.running = True
    assert not call.poll()
    with pytest.raises(RuntimeError, match="An Atelier job is running; wait for it or cancel it"):
        call()
    job_state.running = False
    monkeypatch.setenv("ATELIER_PYTHON", "/no/such/python")
    with pytest.raises(RuntimeError, match="Backend Python not found: /no/such/python"):
        call()
