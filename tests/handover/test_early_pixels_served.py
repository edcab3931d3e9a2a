"""A full texture that asks for ``early_pixels`` hands its raw pixels over first, on the real
``python -m backend serve``: one ``image`` event between the last step and the result, naming a
raw ``rgba8`` file pixel-identical to the PNG that follows; the result is the one the same
request makes without it. No ``image`` event comes for a job that did not ask, nor for a preview.
"""

from __future__ import annotations

import re
from pathlib import Path

from handover_direct import SETTINGS
from PIL import Image

from backend.tasks.texture import EARLY_PIXELS_FILE, PNG_PROVENANCE_KEY

# One job's events in order: one image event after every step, before the result.
EARLY_ORDER = re.compile(r"accepted( progress)+ image result")
PLAIN_ORDER = re.compile(r"accepted( progress)+ result")


def kinds(events: list[dict]) -> str:
    return " ".join(event["type"] for event in events)


def without_time(record: dict) -> dict:
    """A provenance record less the moment it was made (two runs differ only there)."""
    return {key: value for key, value in record.items() if key != "created"}


def test_the_raw_pixels_come_first_and_equal_the_png_that_follows(backend, texture_request, tmp_path):
    request = texture_request(early_pixels=True, **SETTINGS)
    backend.send(request)
    events = backend.events_for(request["id"])
    assert EARLY_ORDER.fullmatch(kinds(events)), kinds(events)
    image, result = events[-2], events[-1]
    folder = tmp_path / "out" / request["id"]
    raw_file = {"role": "base_color", "path": str(folder / EARLY_PIXELS_FILE), "format": "rgba8"}
    assert image == {"type": "image", "id": request["id"], "width": 64, "height": 64, "files": [raw_file]}
    png_file = {"role": "base_color", "path": str(folder / "base_color.png"), "format": "png"}
    assert result["files"] == [png_file]  # the PNG alone: the raw pixels are no result

    raw = (folder / EARLY_PIXELS_FILE).read_bytes()
    png = Image.open(folder / "base_color.png")
    assert len(raw) == 64 * 64 * 4
    assert raw == png.convert("RGBA").tobytes()  # pixel-identical, top row first
    assert PNG_PROVENANCE_KEY in png.text  # the record is still written, in the PNG

    # The same request without early pixels: no image event, and the same result.
    plain = texture_request(**SETTINGS)
    backend.send(plain)
    events = backend.events_for(plain["id"])
    assert PLAIN_ORDER.fullmatch(kinds(events)), kinds(events)
    assert events[-1]["data"] == result["data"]
    assert without_time(events[-1]["metadata"]) == without_time(result["metadata"])
    plain_folder = tmp_path / "out" / plain["id"]
    assert [path.name for path in plain_folder.iterdir()] == ["base_color.png"]
    assert Image.open(plain_folder / "base_color.png").tobytes() == png.tobytes()


def test_a_preview_that_asks_for_early_pixels_sends_no_image_event(backend, texture_request, tmp_path):
    request = texture_request(preview=True, early_pixels=True, **SETTINGS)
    backend.send(request)
    events = backend.events_for(request["id"])
    assert PLAIN_ORDER.fullmatch(kinds(events)), kinds(events)
    (file,) = events[-1]["files"]
    assert (file["role"], file["format"]) == ("preview", "rgba8")
    assert [path.name for path in (tmp_path / "out" / request["id"]).iterdir()] == ["preview.rgba"]
    assert Path(file["path"]).stat().st_size == 64 * 64 * 4
