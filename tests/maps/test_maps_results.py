"""The client's view of a maps result (``core.results.MapsResult``), and the maps request's
values tied to the one place each is defined."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend import cli
from core import maps_models, pbr, protocol
from core.results import MapsResult, ResultError, parse_result

DOC = (Path(protocol.__file__).parent / "PROTOCOL.md").read_text(encoding="utf-8")
RECORD = {"task": "maps", "engine": "marigold", "model": "marigold", "parameters": {}, "versions": {}}


def event(folder: Path, roles, engine: str = "marigold", listed=None, outside: Path | None = None):
    files = []
    for role in roles:
        path = (outside or folder) / f"{role}.png"
        path.write_bytes(b"png")
        files.append(protocol.ResultFile(role, str(path), "png"))
    data = {"maps": list(roles) if listed is None else listed}
    return SimpleNamespace(id="m", files=files, metadata={**RECORD, "engine": engine}, data=data)


def test_a_maps_result_gives_each_map_by_role_in_role_order(tmp_path):
    result = parse_result("maps", event(tmp_path, ["albedo", "normal", "height"]), tmp_path)
    assert isinstance(result, MapsResult) and result.engine == "marigold"
    assert list(result.maps) == ["normal", "height", "albedo"]
    assert result.maps["normal"] == (tmp_path / "normal.png").resolve()


@pytest.mark.parametrize("change, text", [
    ({"engine": "diffusers"}, "engine must be one of classic, marigold"),
    ({"roles": ["normal", "base_color"], "listed": ["normal", "base_color"]}, "not maps: base_color"),
    ({"listed": ["normal"]}, "are not the maps it lists"),
    ({"listed": "normal,height"}, "are not the maps it lists"),
])
def test_a_malformed_maps_result_is_refused(tmp_path, change, text):
    roles = change.pop("roles", ["normal", "height"])
    with pytest.raises(ResultError, match=text):
        parse_result("maps", event(tmp_path, roles, **change), tmp_path)


def test_a_map_outside_the_job_folder_is_refused(tmp_path):
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    job.mkdir()
    elsewhere.mkdir()
    with pytest.raises(ResultError, match="outside the job's folder"):
        parse_result("maps", event(job, ["normal"], outside=elsewhere), job)


def test_the_request_result_roles_and_cli_come_from_the_core_lists():
    assert protocol.MapsRequest(id="m").maps == list(pbr.MAP_ROLES)
    assert set(pbr.MAP_ROLES) <= set(protocol.FILE_ROLES)
    decoded = protocol.decode_request('{"type": "maps", "id": "m", "image": "/a.png", "maps": ["ao"]}')
    assert isinstance(decoded, protocol.MapsRequest) and decoded.maps == ["ao"]
    parser = cli.build_parser()
    maps_command = next(a for a in parser._actions if a.dest == "command").choices["maps"]
    options = {a.dest: a for a in maps_command._actions}
    assert tuple(options["seamless"].choices) == protocol.SEAMLESS_MODES
    assert options["maps"].default == ",".join(pbr.MAP_ROLES)


def test_protocol_doc_names_the_maps_roles_models_and_subfolders():
    row = next(line for line in DOC.splitlines() if line.startswith("| | `maps` | array |"))
    assert re.findall(r"`(\w+)`", row.split("|")[4]) == list(pbr.MAP_ROLES)
    model_row = DOC.split("| `maps` | `id` |", 1)[1].split("| | `model` |", 1)[1].splitlines()[0]
    for part in maps_models.MARIGOLD_PARTS:
        assert f"`{part.hub_id}`" in model_row and f"`{part.folder}/`" in model_row
    assert f"`{pbr.DEFAULT_MAPS_MODEL}`" in model_row and f"`{pbr.MAPS_MODEL_ENV}`" in model_row


def test_the_backend_says_it_serves_maps(start_backend):
    hello = start_backend().next_event()
    assert hello["type"] == "hello" and "maps" in hello["capabilities"]
