#!/usr/bin/env bash
# Sets up the test environment from nothing (a Python 3.11 venv with real Blender 5.0 as the bpy
# module, torch and the backend's stack, plus one venv for each other Blender tested) and runs
# every test, offline.
#
# PYTHON313: the Python 3.13 for Blender 5.3's environment (its bpy wheel exists for 3.13 only).
# Default: python3.13 on PATH, else a 3.13 under pyenv ($PYENV_ROOT, else ~/.pyenv).
set -euo pipefail
cd "$(dirname "$0")/.."

# Prints the first of its arguments that runs as Python 3.13; fails saying how to get one.
find_python313() {
  local candidate
  for candidate in "$@"; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "Python 3.13 not found (tried: $*); Blender 5.3's tests need it:" \
       "install it (e.g. pyenv install 3.13) or set PYTHON313 to its path" >&2
  return 1
}

# blender_env FOLDER PYTHON BPY_VERSION: a venv of PYTHON with Blender BPY_VERSION as bpy, for
# the install smoke tests (install, register, each feature once, unregister); the backend
# still runs from .venv.
blender_env() {
  if [ ! -x "$1/bin/python" ]; then
    "$2" -m venv "$1"
  fi
  "$1/bin/python" -m pip install --quiet --disable-pip-version-check "bpy==$3"
}

# text_server_env: llama-cpp-python's server in .venv, the real OpenAI-compatible text server the
# text-server tests start. PyPI has it as source only and compiling llama.cpp takes minutes
# (about 6.5 on 2 cores), so its wheel is built once into .cache/wheels (git-ignored; delete it
# to rebuild) and later runs install that wheel with --no-index: no index query, works offline.
# The server's pinned packages then come from the index on a fresh machine; on one that ran this
# before they are installed already and pip asks nothing. GGML_NATIVE=OFF: a wheel for any
# x86-64 with AVX2, not only for the CPU that built it; set CMAKE_ARGS to build otherwise.
text_server_env() {
  local wheels=.cache/wheels requirements=tools/requirements-text-server.txt pin
  pin=$(grep -o '^llama-cpp-python\[server\]==[^ ]*' "$requirements" | sed 's/\[server\]//')
  if ! compgen -G "$wheels/llama_cpp_python-${pin#*==}-*.whl" >/dev/null; then
    echo "Building llama-cpp-python once (minutes); later runs reuse $wheels" >&2
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      .venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps \
        --wheel-dir "$wheels" "$pin"
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
    --find-links "$wheels" "$pin"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --only-binary llama-cpp-python --find-links "$wheels" -r "$requirements"
}

if [ -n "${PYTHON313:-}" ]; then
  PYTHON313=$(find_python313 "$PYTHON313")
else
  # pyenv's shim named python3.13 runs only where pyenv selects 3.13, so try its folders too.
  PYTHON313=$(find_python313 python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13)
fi

source tools/setup_venv.sh  # after the 3.13 lookup, so a missing 3.13 stops the script at once

# 4.2: the oldest version the manifest claims (blender_version_min); 4.5: the newest LTS
# (4.5.15 is the newest 4.5 on PyPI as of December 2026; pinned, so every run tests the same
# Blender); 5.3: the newest release (Python 3.13).
blender_env .venv-bpy42 "$PYTHON" 4.2.23
blender_env .venv-bpy45 "$PYTHON" 4.5.15
blender_env .venv-bpy53 "$PYTHON313" 5.3.0
text_server_env

export HF_HUB_OFFLINE=1
export ATELIER_REQUIRE_ALL_BLENDERS=1  # here every Blender's smoke test must run, never be skipped
.venv/bin/ruff check .

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
