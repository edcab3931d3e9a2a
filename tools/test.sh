#!/usr/bin/env bash
# Sets up the test environment from nothing (a Python 3.11 venv with real Blender as the bpy
# module, torch and the backend's stack, plus a bpy 4.2 venv) and runs every test, offline.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/setup_venv.sh

# Blender 4.2, the oldest version the manifest claims, in its own environment for the smoke
# tests (install, register, one generation, unregister); the backend still runs from .venv.
if [ ! -x .venv-bpy42/bin/python ]; then
  "$PYTHON" -m venv .venv-bpy42
fi
.venv-bpy42/bin/python -m pip install --quiet --disable-pip-version-check bpy==4.2.23

export HF_HUB_OFFLINE=1
export ATELIER_REQUIRE_BPY42=1  # here the 4.2 smoke tests must run, never be skipped
.venv/bin/ruff check .

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
