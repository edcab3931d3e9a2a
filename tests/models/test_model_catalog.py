"""The one table of known models, and the rules that pick a repository's files."""

from __future__ import annotations

import pytest

from backend.model_manager import chosen_files, pickle_only_dirs
from core import (
    control_models,
    families,
    maps_models,
    model_catalog,
    text_models,
    texture_models,
    tiny_autoencoders,
)


def test_every_model_of_every_table_is_in_the_catalog_once():
    ids = [entry.id for entry in model_catalog.CATALOG]
    assert len({model_id.lower() for model_id in ids}) == len(ids)
    by_kind = {kind: [e.id for e in model_catalog.CATALOG if e.kind == kind] for kind in model_catalog.KINDS}
    assert by_kind == {"texture": [m.id for m in texture_models.TEXTURE_MODELS],
                       "control": [m.id for m in control_models.CONTROL_MODELS],
                       "maps": [part.hub_id for part in maps_models.MARIGOLD_PARTS],
                       "text": [m.id for m in text_models.TEXT_MODELS],
                       "preview": list(dict.fromkeys(tiny_autoencoders.TINY_AUTOENCODERS.values()))}
    assert model_catalog.find(families.DEFAULT_TEXT_MODEL.upper()).kind == "text"


def test_every_licence_named_in_the_tables_is_known():
    """So whether a model may be used commercially is written down, never guessed from its name."""
    assert {entry.licence for entry in model_catalog.CATALOG} <= set(model_catalog.LICENCES)
    restricted = {entry.id for entry in model_catalog.CATALOG if not entry.commercial_use}
    assert {"black-forest-labs/FLUX.1-dev", "Qwen/Qwen2.5-3B-Instruct", families.DEFAULT_TEXTURE_MODEL,
            "jasperai/Flux.1-dev-Controlnet-Depth"} <= restricted
    assert families.DEFAULT_TEXT_MODEL not in restricted
    assert not restricted & set(tiny_autoencoders.TINY_AUTOENCODERS.values())  # MIT, as each model card says


def test_every_family_but_flux_schnell_has_a_depth_controlnet():
    missing = [name for name in families.FAMILIES if not control_models.for_family(name)]
    assert missing == ["flux-schnell"]
    sizes = [model.download_gb for model in control_models.for_family("sdxl")]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize(("licence", "allowed"), [
    ("cc-by-nc-4.0", False), ("cc-by-nc-sa-4.0", False), ("qwen-research", False),
    ("flux-1-dev-non-commercial-license", False), ("mit", True), ("openrail++", True),
    ("Stability AI Community License", False), ("Apache-2.0", True), ("other", False), ("unknown", False),
    ("llama3", False), ("gemma", False), ("stabilityai-ai-community", False), ("gpl-3.0", False),
    ("creativeml-openrail-m", True), ("bsd-3-clause", True), ("cc-by-4.0", True), ("cc0-1.0", True)])
def test_licence_tags_of_models_outside_the_table(licence, allowed):
    assert model_catalog.commercial_use(licence) is allowed


def test_a_pipeline_keeps_its_component_weights_and_configs_only():
    names = ["model_index.json", "sd_xl_turbo_1.0.safetensors", "unet/config.json",
             "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
             "unet/diffusion_pytorch_model.bin", "text_encoder/model.onnx", "tokenizer/merges.txt",
             "tokenizer_2/spiece.model", "README.md", "vae/diffusion_pytorch_model.fp16.safetensors",
             "vae/config.json"]
    wanted, left = chosen_files(names, skip=("tokenizer/*",))
    assert wanted == ["model_index.json", "tokenizer_2/spiece.model", "unet/config.json",
                      "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
                      "vae/diffusion_pytorch_model.fp16.safetensors"]
    assert sorted(wanted + left) == sorted(names)


def test_sharded_variants_and_single_model_repositories():
    names = ["config.json", "model.safetensors", "model.safetensors.index.json",
             "model.fp16-00001-of-00002.safetensors", "model.safetensors.index.fp16.json", "tokenizer.json"]
    wanted, _ = chosen_files(names)
    assert wanted == ["config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json"]


def test_pickle_only_folders_are_found_by_name():
    assert pickle_only_dirs(["config.json", "pytorch_model.bin"]) == [""]
    assert pickle_only_dirs(["unet/a.bin", "unet/a.safetensors", "vae/b.ckpt", "vae/c.pt"]) == ["vae"]
    assert pickle_only_dirs(["model.safetensors", "training_args.bin"]) == []
