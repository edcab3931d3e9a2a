"""A texture job that asks for the tiny autoencoder decodes with it, exactly as diffusers does;
one that cannot have it decodes with the full VAE and says why; the cached pipeline keeps its
own VAE for the jobs after it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from handover_direct import SETTINGS, direct_image
from PIL import Image
from tiny_pipelines import build_tiny_autoencoder

from backend.task_context import JobContext
from backend.tasks import texture
from core import protocol
from core.errors import Cancelled
from core.families import FAMILIES
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV, TINY_AUTOENCODERS, tiny_autoencoder_for


def run_texture(job_factory, model, **fields):
    request, job = job_factory(protocol.TextureRequest, model=str(model), **SETTINGS, **fields)
    return texture.run(request, job)


def png_pixels(output) -> np.ndarray:
    (file,) = output.files
    assert file.role == "base_color" and file.format == "png"
    return np.asarray(Image.open(file.path))


def test_every_family_has_a_tiny_autoencoder_and_the_environment_overrides_it(monkeypatch):
    assert set(TINY_AUTOENCODERS) == set(FAMILIES)
    monkeypatch.delenv(TINY_AUTOENCODER_ENV, raising=False)
    assert tiny_autoencoder_for("sdxl-turbo") == "madebyollin/taesdxl"
    assert tiny_autoencoder_for("flux-schnell") == "madebyollin/taef1"
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, " /models/taesd ")
    assert tiny_autoencoder_for("sdxl") == "/models/taesd"


@pytest.mark.parametrize("model_fixture", ["tiny_sd", "tiny_sdxl"])
def test_a_tiny_autoencoder_job_equals_diffusers_with_that_vae(job_factory, tiny_autoencoder, monkeypatch,
                                                               request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tiny_autoencoder))
    output = run_texture(job_factory, model, tiny_autoencoder=True)
    expected = np.asarray(direct_image(model, tiny_autoencoder))
    assert np.array_equal(png_pixels(output), expected)
    assert not np.array_equal(expected, np.asarray(direct_image(model)))  # the tiny one decoded
    parameters = output.metadata["parameters"]
    assert parameters["tiny_autoencoder"] is True
    assert parameters["tiny_autoencoder_model"] == str(tiny_autoencoder)
    assert "notes" not in output.data


def test_a_normal_job_after_a_tiny_one_is_unchanged(job_factory, tiny_sd, tiny_autoencoder, monkeypatch):
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tiny_autoencoder))
    run_texture(job_factory, tiny_sd, tiny_autoencoder=True)
    output = run_texture(job_factory, tiny_sd)
    assert np.array_equal(png_pixels(output), np.asarray(direct_image(tiny_sd)))
    assert output.metadata["parameters"]["tiny_autoencoder"] is False
    assert output.metadata["parameters"]["tiny_autoencoder_model"] == ""


def test_a_cancelled_tiny_job_gives_the_pipeline_its_own_vae_back(model_cache, tiny_sd, tiny_autoencoder,
                                                                  tmp_path, monkeypatch):
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tiny_autoencoder))
    cancel = threading.Event()
    request = protocol.TextureRequest(id="cancelled", model=str(tiny_sd), output_dir=str(tmp_path),
                                      device="cpu", tiny_autoencoder=True, **SETTINGS)
    job = JobContext(request, model_cache, emit=lambda event: cancel.set(), cancel_event=cancel)
    with pytest.raises(Cancelled):
        texture.run(request, job)
    pipe = job.load("texture", str(tiny_sd), texture.load_pipeline)  # the cached pipeline
    assert type(pipe.vae).__name__ == "AutoencoderKL"
    assert tuple(pipe.config["vae"]) == ("diffusers", "AutoencoderKL")


def _missing(tmp_path, tiny_sd):
    return tmp_path / "no-such-folder", "does not exist"


def _another_model(tmp_path, tiny_sd):
    return tiny_sd / "vae", "holds model class AutoencoderKL, not AutoencoderTiny"


def _another_latent_space(tmp_path, tiny_sd):
    return build_tiny_autoencoder(tmp_path / "taef1-shaped", latent_channels=16), "reads 16-channel latents"


@pytest.mark.parametrize("unavailable", [_missing, _another_model, _another_latent_space],
                         ids=["missing", "another model", "another latent space"])
def test_an_unavailable_tiny_autoencoder_decodes_with_the_full_vae_and_says_why(
        job_factory, tiny_sd, tmp_path, monkeypatch, unavailable):
    folder, says = unavailable(tmp_path, tiny_sd)
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(folder))
    output = run_texture(job_factory, tiny_sd, tiny_autoencoder=True)
    assert np.array_equal(png_pixels(output), np.asarray(direct_image(tiny_sd)))
    (note,) = output.data["notes"]
    assert note.startswith(f"the full VAE decoded: tiny autoencoder {folder} ") and says in note, note
    assert output.metadata["parameters"]["tiny_autoencoder"] is False


def test_a_tiny_autoencoder_outside_the_cache_is_never_fetched_and_the_note_says_how(
        job_factory, tiny_sd, tmp_path, monkeypatch):
    """Even when the request and the environment allow downloads, a job takes the tiny
    autoencoder from the local cache or not at all (huggingface_hub's own offline switch, read
    at import, still keeps any attempt off the network here)."""
    import huggingface_hub.constants

    monkeypatch.delenv(TINY_AUTOENCODER_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    output = run_texture(job_factory, tiny_sd, tiny_autoencoder=True, allow_network=True)
    assert np.array_equal(png_pixels(output), np.asarray(direct_image(tiny_sd)))
    (note,) = output.data["notes"]
    assert ("tiny autoencoder 'madebyollin/taesd' (the small decoder that makes live previews fast) is "
            "not in the local Hugging Face cache") in note, note
    assert "download it once with `hf download madebyollin/taesd`" in note
    assert f"or set {TINY_AUTOENCODER_ENV} to a folder saved from diffusers' AutoencoderTiny" in note


def test_a_missing_tiny_autoencoder_folder_names_the_setting(job_factory, tiny_sd, tmp_path, monkeypatch):
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tmp_path / "no-taesd"))
    (note,) = run_texture(job_factory, tiny_sd, tiny_autoencoder=True).data["notes"]
    assert f"tiny autoencoder folder '{tmp_path / 'no-taesd'}' does not exist" in note
    assert f"check the folder {TINY_AUTOENCODER_ENV} names" in note
