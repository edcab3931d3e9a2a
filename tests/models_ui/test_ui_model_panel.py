"""The Models box of Atelier's preferences: every known model with its licence (a licence that
restricts commercial use stands out), size, GPU memory and cached revisions, the buttons that
act on each, where the hub token comes from, and the licence dialog of a download."""

import types

import pytest
from panel_recorder import RecordingLayout, labels, operator_settings

from core import model_catalog
from core.results import CachedRevision, ModelRow, ModelsResult

OURS, THEIRS = "1" * 40, "2" * 40


@pytest.fixture
def prefs(addon, bpy_module):
    prefs = bpy_module.context.preferences.addons[addon.__name__].preferences
    prefs.local_models.clear()
    yield prefs
    prefs.local_models.clear()


def manager(addon):
    return addon.panels.model_manager


def draw(bpy, addon, prefs) -> list:
    calls = []
    manager(addon).draw_model_manager(RecordingLayout(bpy, calls), bpy.context, prefs)
    return calls


def alerted_labels(calls) -> list[str]:
    """The labels drawn right after ``alert = True`` on their row."""
    return [calls[i + 1][2].get("text", "") for i, (name, args, _) in enumerate(calls[:-1])
            if name == "alert" and args == (True,) and calls[i + 1][0] == "label"]


def row(entry, revisions=()) -> ModelRow:
    return ModelRow(id=entry.id, kind=entry.kind, licence=entry.licence, commercial_use=entry.commercial_use,
                    download_gb=entry.download_gb, gpu_gib=entry.gpu_gib, source=entry.source,
                    purpose=entry.purpose, revisions=tuple(revisions))


def test_before_a_refresh_every_known_model_is_drawn_from_the_table(bpy_module, addon, clean_scene, prefs):
    calls = draw(bpy_module, addon, prefs)
    shown = labels(calls)
    assert "Press Refresh to see what the Hugging Face cache holds" in shown
    assert [text for text in shown if text in manager(addon).HEADINGS.values()] == [
        manager(addon).HEADINGS[kind] for kind in model_catalog.KINDS]  # one heading per kind, in order
    # The first download button names no model: the artist types one in the dialog.
    assert operator_settings(calls, "atelier.model_download") == [{}] + [
        {"model": entry.id} for entry in model_catalog.CATALOG]
    for entry in model_catalog.CATALOG:
        assert entry.id in shown
        assert any(f"about {entry.download_gb:g} GB to download; about {entry.gpu_gib:g} GiB of GPU memory"
                   in text for text in shown)
    # Licences that restrict commercial use stand out; the others do not.
    restricted = [entry for entry in model_catalog.CATALOG if not entry.commercial_use]
    assert restricted and [text for text in alerted_labels(calls) if text.startswith("Restricts")] == [
        f"Restricts commercial use: {entry.licence} ({model_catalog.LICENCES[entry.licence][1]})"
        for entry in restricted]
    assert sum(text.startswith("Licence: ") for text in shown) == len(model_catalog.CATALOG) - len(restricted)
    # Blender as a module is offline: the box says how to allow downloads, and where the token is.
    assert addon.operators.models.OFFLINE in alerted_labels(calls)
    assert manager(addon).TOKEN_TEXT in shown
    assert "never stores it in the .blend" in manager(addon).TOKEN_TEXT
    assert operator_settings(calls, "atelier.model_delete") == []


def test_after_a_refresh_cached_revisions_show_and_only_atelier_s_can_be_deleted(
        bpy_module, addon, clean_scene, prefs):
    bpy = bpy_module
    entry = model_catalog.CATALOG[0]
    rows = [row(entry, [CachedRevision(OURS, ("main",), 5_200_000, True),
                        CachedRevision(THEIRS, (), 13_900_000_000, False)])]
    rows += [row(other) for other in model_catalog.CATALOG[1:]]
    addon.operators.models.store_models(bpy.context.window_manager.atelier, ModelsResult("list", tuple(rows)))
    calls = draw(bpy, addon, prefs)
    shown = labels(calls)
    assert "Press Refresh to see what the Hugging Face cache holds" not in shown
    assert f"Cached: revision {OURS[:12]} (main), 5.2 MB, downloaded by Atelier" in shown
    assert f"Cached: revision {THEIRS[:12]}, 13.90 GB, not downloaded by Atelier" in shown
    assert shown.count("Not cached") == len(model_catalog.CATALOG) - 1
    assert operator_settings(calls, "atelier.model_delete") == [{"model": entry.id, "revision": OURS}]
    # A cached model's button downloads it again (another revision may be out).
    downloads = operator_settings(calls, "atelier.model_download")
    assert downloads[:2] == [{}, {"model": entry.id}]
    assert [kwargs["text"] for name, args, kwargs in calls if name == "operator" and
            args[0] == "atelier.model_download"][:3] == ["Download by Id…", "Update", "Download"]


def test_local_folders_are_listed_with_use_and_forget(bpy_module, addon, clean_scene, prefs, tiny_sd_model):
    assert bpy_module.ops.atelier.model_add_folder(directory=str(tiny_sd_model)) == {"FINISHED"}
    calls = draw(bpy_module, addon, prefs)
    path = str(tiny_sd_model.resolve())
    assert f"{tiny_sd_model.name} (Texture, StableDiffusionPipeline)" in labels(calls)
    assert {"model": path, "kind": "texture"} in operator_settings(calls, "atelier.model_use")
    assert operator_settings(calls, "atelier.model_forget_folder") == [{"path": path}]
    assert operator_settings(calls, "atelier.model_add_folder") == [{}]


def dialog(bpy, addon, model: str) -> list:
    """What the download dialog draws for ``model``."""
    calls = []
    drawn = types.SimpleNamespace(layout=RecordingLayout(bpy, calls), model=model,
                                  bl_rna=bpy.ops.atelier.model_download.get_rna_type())
    addon.operators.models.ATELIER_OT_model_download.draw(drawn, bpy.context)
    return calls


def fields(calls) -> list[tuple[str, str | None]]:
    """The operator properties the dialog shows, with their text."""
    return [(args[1], kwargs.get("text")) for name, args, kwargs in calls if name == "prop"]


MODEL_FIELDS = [("model", None), ("revision", None)]
TICK = ("accept_licence", "I have read this licence and accept it")


def test_the_download_dialog_shows_a_restricting_licence_and_the_tick(bpy_module, addon):
    entry = next(entry for entry in model_catalog.CATALOG if not entry.commercial_use)
    assert addon.operators.models.needs_tick(entry.id)
    calls = dialog(bpy_module, addon, entry.id)
    assert f"{entry.id} is under the {entry.licence}:" in labels(calls)
    assert model_catalog.LICENCES[entry.licence][1] in alerted_labels(calls)
    assert f"Read it on huggingface.co/{entry.id} before you accept it." in labels(calls)
    assert fields(calls) == [*MODEL_FIELDS, TICK]


def test_the_download_dialog_shows_an_allowing_licence_without_the_tick(bpy_module, addon):
    entry = next(entry for entry in model_catalog.CATALOG if entry.commercial_use)
    assert not addon.operators.models.needs_tick(entry.id)
    calls = dialog(bpy_module, addon, entry.id)
    assert f"Licence: {entry.licence} ({model_catalog.LICENCES[entry.licence][1]})" in labels(calls)
    assert alerted_labels(calls) == [] and fields(calls) == MODEL_FIELDS


@pytest.mark.parametrize("model", ["atelier-test/research-only", " Someone/Else-XL "])
def test_the_download_dialog_offers_the_tick_for_a_model_outside_the_table(bpy_module, addon, model):
    assert model_catalog.find(model) is None
    assert not addon.operators.models.needs_tick(model)  # Blender leaves the verdict to the backend
    calls = dialog(bpy_module, addon, model)
    assert labels(calls) == [
        "Licence: unknown, read the model card on the hub",
        "Without the tick, Atelier downloads it only if the hub names a licence that allows commercial use.",
        f"Read it on huggingface.co/{model.strip()} before you accept it."]
    assert fields(calls) == [*MODEL_FIELDS, TICK]


def test_the_download_dialog_asks_for_a_model_first(bpy_module, addon):
    calls = dialog(bpy_module, addon, "  ")
    assert labels(calls) == [] and fields(calls) == MODEL_FIELDS


def test_the_preferences_draw_the_models_box_below_the_settings(bpy_module, addon, prefs):
    class Drawn:
        """The preferences, drawn into a recording layout."""

        def __init__(self, calls):
            self.layout = RecordingLayout(bpy_module, calls)

        def __getattr__(self, name):
            return getattr(prefs, name)

    calls = []
    type(prefs).draw(Drawn(calls), bpy_module.context)
    names = [(name, kwargs.get("text")) for name, args, kwargs in calls]
    settings = [i for i, (name, args, _) in enumerate(calls) if name == "prop" and args[1] == "idle_minutes"]
    assert settings and names.index(("label", "Models")) > settings[0]
    assert manager(addon).TOKEN_TEXT in labels(calls)
    assert operator_settings(calls, "atelier.models_refresh") == [{}]
    assert len(operator_settings(calls, "atelier.model_download")) == len(model_catalog.CATALOG) + 1
