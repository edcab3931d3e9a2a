"""Local model folders in the model manager: ``atelier.model_add_folder`` checks a folder's
config files and remembers it in the preferences; anything else is refused with what a model
folder needs, and the preferences are unchanged. ``model_use`` puts a model in its setting."""

import json

import pytest


@pytest.fixture
def prefs(addon, bpy_module):
    """Atelier's preferences with no local models; the model settings are restored afterwards."""
    prefs = bpy_module.context.preferences.addons[addon.__name__].preferences
    saved = {name: getattr(prefs, name) for name in ("texture_model", "text_model", "maps_model")}
    prefs.local_models.clear()
    yield prefs
    prefs.local_models.clear()
    for name, value in saved.items():
        setattr(prefs, name, value)


def added(prefs) -> list[tuple[str, str, str]]:
    return [(item.path, item.kind, item.class_name) for item in prefs.local_models]


def test_a_diffusers_pipeline_folder_is_added_as_a_texture_model(bpy_module, prefs, tiny_sd_model):
    assert bpy_module.ops.atelier.model_add_folder(directory=str(tiny_sd_model)) == {"FINISHED"}
    assert added(prefs) == [(str(tiny_sd_model.resolve()), "texture", "StableDiffusionPipeline")]
    assert prefs.local_models[0].name == tiny_sd_model.name
    # Adding it again checks it again; it is listed once.
    assert bpy_module.ops.atelier.model_add_folder(directory=str(tiny_sd_model) + "/") == {"FINISHED"}
    assert len(prefs.local_models) == 1


def test_a_transformers_folder_is_a_text_model_and_a_controlnet_a_control_model(
        bpy_module, prefs, tiny_text_model, tmp_path):
    controlnet = tmp_path / "depth-controlnet"
    controlnet.mkdir()
    (controlnet / "config.json").write_text(json.dumps(
        {"_class_name": "ControlNetModel", "_diffusers_version": "0.42.0", "in_channels": 4}))
    for folder in (tiny_text_model, controlnet):
        assert bpy_module.ops.atelier.model_add_folder(directory=str(folder)) == {"FINISHED"}
    assert [(kind, name) for _, kind, name in added(prefs)] == [
        ("text", "Qwen2ForCausalLM"), ("control", "ControlNetModel")]


@pytest.mark.parametrize("make, expected", [
    (lambda folder: None, "is not a model folder: a model folder holds model_index.json"),
    (lambda folder: (folder / "config.json").write_text("{not json"), "is not valid JSON"),
    (lambda folder: (folder / "model_index.json").write_text("[1, 2]"), "is not a JSON object"),
    (lambda folder: (folder / "config.json").write_text(json.dumps(
        {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.42.0"})),
     "holds one diffusers part (UNet2DConditionModel), not a whole model"),
    (lambda folder: (folder / "model_index.json").write_text(json.dumps(
        {"_class_name": "MarigoldDepthPipeline"})), "maps need all three"),
    (lambda folder: (folder / "normals").mkdir(), "has no appearance/, depth/ subfolder"),
])
def test_other_folders_are_refused_and_nothing_is_added(bpy_module, prefs, tmp_path, make, expected):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    make(folder)
    with pytest.raises(RuntimeError, match="Not added") as refused:
        bpy_module.ops.atelier.model_add_folder(directory=str(folder))
    assert expected in str(refused.value)
    assert added(prefs) == []


def test_a_path_that_is_no_folder_is_refused(bpy_module, prefs, tmp_path):
    with pytest.raises(RuntimeError, match="is not a folder; choose the folder a model was saved in"):
        bpy_module.ops.atelier.model_add_folder(directory=str(tmp_path / "missing"))
    assert added(prefs) == []


def test_a_maps_folder_is_added_and_forgetting_it_leaves_its_files(bpy_module, prefs, tmp_path):
    folder = tmp_path / "marigold"
    for part in ("normals", "appearance", "depth"):
        (folder / part).mkdir(parents=True)
    assert bpy_module.ops.atelier.model_add_folder(directory=str(folder)) == {"FINISHED"}
    assert added(prefs) == [(str(folder.resolve()), "maps", "")]
    assert bpy_module.ops.atelier.model_forget_folder(path=str(folder.resolve())) == {"FINISHED"}
    assert added(prefs) == [] and (folder / "depth").is_dir()
    with pytest.raises(RuntimeError, match="is not among the model manager's folders"):
        bpy_module.ops.atelier.model_forget_folder(path=str(folder.resolve()))


def test_use_puts_the_model_in_its_setting(bpy_module, addon, prefs, tiny_sd_model, tmp_path):
    ops = bpy_module.ops.atelier
    assert ops.model_use(model=str(tiny_sd_model), kind="texture") == {"FINISHED"}
    assert prefs.texture_model == str(tiny_sd_model)
    assert ops.model_use(model="Qwen/Qwen2.5-1.5B-Instruct", kind="text") == {"FINISHED"}
    assert prefs.text_model == "Qwen/Qwen2.5-1.5B-Instruct"
    # A hub part of Marigold means the three hub pipelines; a folder is used as it is.
    assert ops.model_use(model="prs-eth/marigold-depth-v1-1", kind="maps") == {"FINISHED"}
    assert prefs.maps_model == "marigold"
    assert ops.model_use(model=str(tmp_path), kind="maps") == {"FINISHED"}
    assert prefs.maps_model == str(tmp_path)
    with pytest.raises(RuntimeError, match="No model was named"):
        ops.model_use(model=" ", kind="text")
    assert prefs.text_model == "Qwen/Qwen2.5-1.5B-Instruct"
