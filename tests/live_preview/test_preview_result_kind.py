"""The request, not the files, decides which result a job gets: preview pixels sent back for a
full texture request (or a texture for a preview request) end the job with ``invalid_output``,
so apply code that reads a base_color image never sees a preview."""

import pytest

RECORD = {"schema": "atelier.provenance/1", "task": "texture", "engine": "diffusers", "model": "m",
          "parameters": {}, "versions": {}}
DATA = {"prompt": "moss", "negative_prompt": "", "width": 64, "height": 64, "steps": 1, "guidance": 0.0,
        "seed": 3, "seamless": "off"}


def received(addon, tmp_path, preview, roles):
    """A job for a texture request (``preview`` as given) that received a result with ``roles``."""
    jobs, protocol, job_folder = addon.client.session, addon.core.protocol, addon.client.job_folder
    request = protocol.TextureRequest(id=jobs.new_request_id(), prompt="moss", preview=preview)
    folder = job_folder.create(tmp_path, request.id)
    files = []
    for role in roles:
        name, form = ("preview.rgba", "rgba8") if role == "preview" else (f"{role}.png", "png")
        (folder.path / name).write_bytes(b"\x7f" * 64 * 64 * 4)
        files.append(protocol.ResultFile(role, str(folder.path / name), form))
    job = jobs.Job(request=request, folder=folder)
    jobs._receive(job, protocol.ResultEvent(id=request.id, files=files, metadata=RECORD, data=DATA))
    return job


@pytest.mark.parametrize(("preview", "roles", "says"), [
    (False, ("preview",), "asked for a base_color image"),
    (True, ("base_color",), "asked for preview pixels"),
    (True, ("base_color", "preview"), "asked for preview pixels"),
])
def test_a_result_of_the_other_kind_ends_the_job(addon, tmp_path, preview, roles, says):
    job = received(addon, tmp_path, preview, roles)
    assert job.result is None and job.error.code == "invalid_output" and says in job.error.message


@pytest.mark.parametrize(("preview", "roles", "kind"), [
    (True, ("preview",), "PreviewResult"),
    (False, ("base_color",), "TextureResult"),
    (False, ("base_color", "preview"), "TextureResult"),
])
def test_the_kind_asked_for_is_received(addon, tmp_path, preview, roles, kind):
    job = received(addon, tmp_path, preview, roles)
    assert job.error is None and type(job.result).__name__ == kind
