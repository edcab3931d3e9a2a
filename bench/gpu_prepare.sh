#!/usr/bin/env bash
# Makes on this (CPU, networked) machine the two git-ignored files bench/gpu_run.sh carries to an
# offline GPU machine, so a checkout that has neither is one command away from the GPU run:
#
#     bash bench/gpu_prepare.sh     # after tools/test.sh has made .venv; about a minute
#
# 1. .cache/gpu-wheels: the wheels pinned in bench/gpu-wheels.txt, for CPython 3.12 on x86-64
#    Linux (the GPU machine's Python), downloaded without their dependencies (the file lists
#    them all). A wheel already there is not fetched again.
# 2. .cache/profile_texture.json: Blender's part of button to material at the GPU run's size
#    (512 px, 1 step), measured here, where Blender runs.
#
# Then, through the device tool:
#
#     run(command="bash bench/gpu_run.sh", carry=[".cache/gpu-wheels", ".cache/profile_texture.json"],
#         timeout_s=510)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
WHEELS="${WHEELS:-.cache/gpu-wheels}"
PROFILE="${PROFILE:-.cache/profile_texture.json}"

if [[ ! -x "$PYTHON" ]]; then
    echo "no $PYTHON: run 'bash tools/test.sh' first (it makes .venv), or set PYTHON" >&2
    exit 1
fi

mkdir -p "$WHEELS"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any \
    -d "$WHEELS" -r bench/gpu-wheels.txt
echo "$WHEELS: $(ls "$WHEELS"/*.whl | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1)"

HF_HUB_OFFLINE=1 "$PYTHON" bench/profile_texture.py --size 512 --steps 1 --repeats 5 --json "$PROFILE"
echo "$PROFILE written"
