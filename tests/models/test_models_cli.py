"""``python -m backend models [--json]`` (offline) and ``python -m backend download`` (against the
hub stand-in)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from backend_process import ROOT, backend_environment, run_backend
from model_downloads import TINY_ID, cache_paths, put_in_cache

from core import model_catalog


def test_models_json_lists_the_catalog_and_the_cache_offline(hf_home, tiny_sd_model):
    revision = put_in_cache(hf_home, model_catalog.CATALOG[0].id, tiny_sd_model)
    done = run_backend("models", "--json", env={"HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"),
                                                 "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["models"]
    assert [row["id"] for row in rows] == [entry.id for entry in model_catalog.CATALOG]
    assert rows[0] == {**model_catalog.CATALOG[0].to_dict(), "revisions": [
        {"revision": revision, "refs": ["main"], "size_bytes": rows[0]["revisions"][0]["size_bytes"],
         "files": 10, "atelier": False}]}
    assert all(row["revisions"] == [] for row in rows[1:])


def test_models_prints_a_table(hf_home):
    done = run_backend("models", env={"HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub")})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["kind", "model", "GB", "GiB", "licence"]
    flux = next(line for line in lines if "black-forest-labs/FLUX.1-dev " in line)
    assert "FLUX.1 [dev] Non-Commercial License *" in flux and flux.rstrip().endswith("-")


def test_download_command_reports_progress_and_the_revision(online, hub, hf_home):
    done = run_backend("download", TINY_ID, env=online)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["revision"] == hub.repos[TINY_ID].commit
    assert "5.2 / 5.2 MB downloading unet/diffusion_pytorch_model.safetensors" in done.stderr
    listed = run_backend("models", env={**online, "HF_HUB_OFFLINE": "1"})
    assert f"{hub.repos[TINY_ID].commit[:12]} (main, downloaded by Atelier)" in listed.stdout


def test_download_command_needs_accept_licence_for_a_restrictive_licence(online, hub, tiny_sd_files):
    hub.add("atelier-test/nc", dict(tiny_sd_files), licence="cc-by-nc-4.0")
    refused = run_backend("download", "atelier-test/nc", env=online)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "error (bad_request): atelier-test/nc is under the cc-by-nc-4.0" in refused.stderr
    accepted = run_backend("download", "atelier-test/nc", "--accept-licence", env=online)
    assert accepted.returncode == 0, accepted.stderr


def test_ctrl_c_cancels_a_download_and_leaves_nothing_half_written(online, hub, hf_home):
    hub.hold = "unet/diffusion_pytorch_model.safetensors"
    process = subprocess.Popen([sys.executable, "-m", "backend", "download", TINY_ID], cwd=ROOT,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=backend_environment(online))
    try:
        assert hub.held.wait(120), "the transfer never started"
        process.send_signal(signal.SIGINT)
        hub.release.set()
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0 and out == ""
    assert "error (cancelled): the job was cancelled" in err
    assert cache_paths(hf_home) == set()
