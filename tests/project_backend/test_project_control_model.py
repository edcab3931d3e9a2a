"""Which depth ControlNet a job uses, and the errors that say what to download or set."""

from __future__ import annotations

import pytest

from core import control_models


@pytest.fixture(scope="session")
def sd1_shaped(tmp_path_factory):
    """A tiny SD pipeline whose UNet reads 768-wide prompt embeddings, as SD 1.x does."""
    from tiny_pipelines import build_tiny_sd_reading

    return build_tiny_sd_reading(tmp_path_factory.mktemp("models") / "tiny-sd1", 768)


@pytest.fixture(scope="session")
def sd2_shaped(tmp_path_factory):
    """A tiny SD pipeline whose UNet reads 1024-wide prompt embeddings, as SD 2.x does."""
    from tiny_pipelines import build_tiny_sd_reading

    return build_tiny_sd_reading(tmp_path_factory.mktemp("models") / "tiny-sd2", 1024)


def then_served(backend, control_request):
    after = backend.request(control_request("project"))
    assert after["type"] == "result", after


@pytest.mark.parametrize(("shape", "named", "not_named"), [
    ("sd1_shaped", "lllyasviel/control_v11f1p_sd15_depth", "thibaud/controlnet-sd21-depth-diffusers"),
    ("sd2_shaped", "thibaud/controlnet-sd21-depth-diffusers", "lllyasviel/control_v11f1p_sd15_depth")])
def test_a_family_whose_control_model_is_not_downloaded_names_it(backend, control_request, request, shape,
                                                                 named, not_named):
    """The shared server's Hugging Face cache is empty: the error names the ControlNet for the
    model's SD version and the command that downloads it, and the server serves the next job."""
    model = request.getfixturevalue(shape)
    for kind in ("project", "restyle"):
        error = backend.request(control_request(kind, model=str(model), control_model=""))
        assert error["type"] == "error" and error["code"] == "model_missing", error
        assert named in error["message"] and not_named not in error["message"] + error["hint"], error
        assert f"`python -m backend download {named}`" in error["hint"], error
    then_served(backend, control_request)


def test_a_model_no_known_control_model_fits_is_refused_with_what_to_set(backend, control_request):
    error = backend.request(control_request("project", control_model=""))  # tiny SD reads 32-wide embeddings
    assert error["type"] == "error" and error["code"] == "model_missing", error
    assert "no depth ControlNet fits" in error["message"] and "32" in error["message"], error
    assert "Control Model" in error["hint"] and "ATELIER_CONTROL_MODEL" in error["hint"], error
    then_served(backend, control_request)


def test_a_control_model_for_another_model_is_refused(backend, control_request, tiny_controlnet_sdxl):
    error = backend.request(control_request("project", control_model=str(tiny_controlnet_sdxl)))
    assert error["type"] == "error" and error["code"] == "model_invalid", error
    assert "does not fit" in error["message"] and "cross_attention_dim 64" in error["message"], error
    then_served(backend, control_request)


def test_a_missing_control_model_folder_says_what_to_set(backend, control_request, tmp_path):
    error = backend.request(control_request("restyle", control_model=str(tmp_path / "no-such-controlnet")))
    assert error["type"] == "error" and error["code"] == "model_missing", error
    assert "no-such-controlnet" in error["message"] and "Control Model" in error["hint"], error
    then_served(backend, control_request)


def test_the_environment_names_the_control_model_when_the_request_does_not(job_factory, monkeypatch, view,
                                                                           tiny_sd, tiny_controlnet):
    from backend.tasks import project
    from core import protocol

    monkeypatch.setenv("ATELIER_CONTROL_MODEL", str(tiny_controlnet))
    request, job = job_factory(protocol.ProjectRequest, prompt="bricks", control_image=str(view["depth"]),
                               model=str(tiny_sd), steps=1, seed=3)
    output = project.run(request, job)
    assert output.metadata["parameters"]["control_model"] == str(tiny_controlnet)
    assert output.metadata["pipeline"] == "StableDiffusionControlNetPipeline"


def test_the_table_tells_sd_versions_apart_by_their_prompt_width():
    sd2 = ["thibaud/controlnet-sd21-depth-diffusers"]
    assert [m.id for m in control_models.matching("sd", 768)] == ["lllyasviel/control_v11f1p_sd15_depth"]
    assert [m.id for m in control_models.matching("sd", 1024)] == sd2
    assert [m.id for m in control_models.matching("sd-turbo", 1024)] == sd2
    assert control_models.matching("sd", 32) == () and control_models.matching("flux-schnell", None) == ()
    assert [m.download_gb for m in control_models.matching("sdxl-turbo", 2048)] == [0.6, 5.0]


def test_projection_prompts_ask_for_flat_light_once():
    lighting = control_models.PROJECTION_LIGHTING
    assert "evenly lit" in lighting and "shadow-free" in lighting
    once = control_models.projection_prompt("mossy stone, ")
    assert once == f"{lighting}, mossy stone"
    assert control_models.projection_prompt(once) == once
    assert control_models.projection_prompt("  ") == lighting


def test_the_lighting_words_come_before_a_long_prompt():
    """A CLIP encoder reads the first 77 tokens: a long prompt must not push the lighting words
    past them, so they go first."""
    long_prompt = ", ".join(["weathered mossy stone with deep cracks"] * 30)
    sent = control_models.projection_prompt(long_prompt)
    assert sent.startswith(control_models.PROJECTION_LIGHTING)
    assert sent.endswith(long_prompt)
