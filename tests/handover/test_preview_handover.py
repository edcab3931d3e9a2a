"""A preview is handed over as raw RGBA bytes, top row first, and nothing else: the bytes are a
direct diffusers call's image, and the client reads them back as a ``PreviewResult``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from handover_direct import SETTINGS, direct_image
from PIL import Image

from backend.tasks import texture
from core import protocol
from core.results import PreviewResult, TextureResult, parse_result
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV


def as_event(output, result_id="preview-test"):
    return SimpleNamespace(id=result_id, files=output.files, metadata=output.metadata, data=output.data)


def test_a_preview_writes_only_raw_rgba_bytes_equal_to_diffusers(job_factory, tiny_sd, tiny_autoencoder,
                                                                  monkeypatch):
    monkeypatch.setenv(TINY_AUTOENCODER_ENV, str(tiny_autoencoder))
    request, job = job_factory(protocol.TextureRequest, model=str(tiny_sd), preview=True,
                               tiny_autoencoder=True, **SETTINGS)
    output = texture.run(request, job)
    (file,) = output.files
    assert (file.role, file.format, Path(file.path).name) == ("preview", "rgba8", "preview.rgba")
    assert [p.name for p in job.job_dir().iterdir()] == ["preview.rgba"]  # no PNG: previews are no record
    expected = direct_image(tiny_sd, tiny_autoencoder).convert("RGBA")
    assert Path(file.path).read_bytes() == expected.tobytes()

    result = parse_result("texture", as_event(output), job.job_dir())
    assert isinstance(result, PreviewResult)
    assert (result.width, result.height) == (64, 64) and result.settings.seed == SETTINGS["seed"]
    assert result.provenance.parameters["tiny_autoencoder"] is True
    pixels = np.fromfile(result.pixels, dtype=np.uint8).reshape(result.height, result.width, 4)
    assert np.array_equal(pixels, np.asarray(expected))  # row 0 is the image's top row


def test_a_normal_texture_is_still_a_png_with_its_record(job_factory, tiny_sd):
    request, job = job_factory(protocol.TextureRequest, model=str(tiny_sd), **SETTINGS)
    output = texture.run(request, job)
    result = parse_result("texture", as_event(output), job.job_dir())
    assert isinstance(result, TextureResult) and result.base_color.suffix == ".png"
    png = Image.open(result.base_color)
    assert texture.PNG_PROVENANCE_KEY in png.text
    assert np.array_equal(np.asarray(png), np.asarray(direct_image(tiny_sd)))


def test_a_served_preview_without_its_tiny_autoencoder_still_arrives_with_a_note(backend, texture_request,
                                                                                  tiny_sd, monkeypatch):
    # The shared server's Hugging Face cache is empty and downloads are off: the family's
    # tiny autoencoder (madebyollin/taesd for SD) cannot be had.
    final = backend.request(texture_request(preview=True, tiny_autoencoder=True, **SETTINGS))
    assert final["type"] == "result", final
    (file,) = final["files"]
    assert (file["role"], file["format"]) == ("preview", "rgba8")
    assert Path(file["path"]).read_bytes() == direct_image(tiny_sd).convert("RGBA").tobytes()
    (note,) = final["data"]["notes"]
    assert "tiny autoencoder madebyollin/taesd is not available" in note and "hf download" in note, note
    assert final["metadata"]["parameters"]["tiny_autoencoder"] is False
