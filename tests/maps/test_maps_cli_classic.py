"""``python -m backend maps`` writes the maps; ``classic`` needs no weights, through the CLI or
the served backend, and gives exactly what ``core.pbr_classic.derive`` gives inside Blender."""

from __future__ import annotations

import json

import numpy as np
from backend_process import run_backend
from PIL import Image

from backend.tasks.maps import map_image, read_image
from core.pbr_classic import derive


def test_the_cli_writes_the_maps_named(texture_png, tmp_path):
    out = tmp_path / "maps"
    done = run_backend("maps", str(texture_png), "--maps", "normal,height", "--out-dir", str(out),
                       "--model", "classic", "--seamless", "xy")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [file["role"] for file in result["files"]] == ["normal", "height"]
    assert sorted(path.name for path in out.iterdir()) == ["tiles_height.png", "tiles_normal.png"]
    assert Image.open(out / "tiles_normal.png").mode == "RGB"
    assert Image.open(out / "tiles_height.png").mode == "I;16"
    assert result["metadata"]["engine"] == "classic" and result["metadata"]["parameters"]["seamless"] == "xy"


def test_the_cli_keeps_existing_maps_unless_told_to_overwrite(texture_png, tmp_path):
    out = tmp_path / "maps"
    out.mkdir()
    (out / "tiles_ao.png").write_bytes(b"an earlier map")
    command = ("maps", str(texture_png), "--maps", "ao", "--out-dir", str(out), "--model", "classic")
    refused = run_backend(*command)
    assert refused.returncode == 1 and "already exist" in refused.stderr and "--overwrite" in refused.stderr
    assert (out / "tiles_ao.png").read_bytes() == b"an earlier map"
    done = run_backend(*command, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert Image.open(out / "tiles_ao.png").mode == "L"


def test_the_cli_reports_a_bad_map_name_without_a_traceback(texture_png, tmp_path):
    done = run_backend("maps", str(texture_png), "--maps", "normal,sheen", "--out-dir", str(tmp_path),
                       "--model", "classic")
    assert done.returncode == 1
    assert "unknown map 'sheen'" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_runs_marigold_from_a_folder(texture_png, tiny_marigold, tmp_path):
    done = run_backend("maps", str(texture_png), "--maps", "roughness", "--out-dir", str(tmp_path),
                       "--model", str(tiny_marigold), "--seed", "3", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metadata"]["engine"] == "marigold"
    assert Image.open(tmp_path / "tiles_roughness.png").mode == "L"


def test_classic_maps_through_the_backend_need_no_weights(backend, maps_request, texture_png):
    final = backend.request(maps_request(model="classic", seamless="x", seed=None))
    assert final["type"] == "result", final
    record = final["metadata"]
    assert (record["engine"], record["model"], record["device"], record["dtype"]) == ("classic", "classic",
                                                                                     None, None)
    expected = derive(read_image(str(texture_png)), seamless="x")
    for file in final["files"]:
        served, role = np.asarray(Image.open(file["path"])), file["role"]
        assert np.array_equal(served, np.asarray(map_image(role, expected[role]))), role
