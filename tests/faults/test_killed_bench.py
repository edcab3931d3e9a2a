"""``bench/kill_detect.py`` runs end to end (two kills) and reports what the README quotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backend_process import ROOT
from killed_jobs import REPORTED_WITHIN


def test_the_kill_bench_reports_detection_and_survival(tiny_sd, tmp_path):
    report = tmp_path / "kills.json"
    done = subprocess.run([sys.executable, "bench/kill_detect.py", "--kills", "2", "--model", str(tiny_sd),
                           "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(report.read_text())["figures"]
    assert figures["kills"] == 2, figures
    assert figures["wrong_outcome"] == figures["ended_before_the_kill"] == 0, figures
    reaped, empty = figures["killed_process_reaped"], figures["jobs_folder_empty"]
    assert figures["survived"] == reaped == empty == 2, figures
    assert figures["jobs_ended_by_the_kill"] + figures["results_kept"] == 2, figures
    assert figures["detect_max_ms"] < REPORTED_WITHIN * 1000, figures
    assert "survived 2/2" in done.stdout and "kill to the job's error: p50" in done.stdout
