#!/usr/bin/env bash
# The GPU benchmark (bench/gpu_fast.py) in one command on a GPU machine that has Python 3.12 with
# torch and transformers but no diffusers and no network. Run from the repository root:
#
#     bash bench/gpu_run.sh [gpu_fast.py options, e.g. --items, --budget-s]
#
# The machine needs the working tree, .cache/gpu-wheels (about 31 MiB in all) and
# .cache/profile_texture.json, and at most 9 minutes (the run stops itself at 450 s).
#
# Button to material is the GPU backend's time plus Blender's hand-over and apply time, which only
# the CPU machine (with Blender) can measure. Make that file there first, at the GPU run's size:
#
#     HF_HUB_OFFLINE=1 .venv/bin/python bench/profile_texture.py --size 512 --steps 1 --repeats 5 \
#         --json .cache/profile_texture.json
#
# and carry it along: when it exists (PROFILE names another), it is passed as --blender-json unless
# the options give --blender-ms or --blender-json; without it the button-to-material goal reads
# "not measured".
#
# Items run in their order of priority (see gpu_fast.py). Compiling the SDXL UNet alone can take
# minutes, so one run may end before the later items; a second run picks them up:
#
#     bash bench/gpu_run.sh --items preview,quantisation,low-vram,ideas
#
# It makes a virtual environment that sees the machine's own packages (--system-site-packages),
# installs from .cache/gpu-wheels (offline) only the packages the machine lacks, without
# upgrading any it has, then runs gpu_fast.py: no item starts after BUDGET_S (400 s) and it is
# stopped at LIMIT_S (450 s); the JSON is written after every figure, so a run cut short keeps
# what it measured. Everything ends within 8 minutes, compilation included. The figures land in
# $OUT/gpu_fast.json (default ./out), the output in $OUT/gpu_fast.log.
#
# .cache/gpu-wheels (git-ignored) holds wheels for CPython 3.12 on x86-64 Linux of diffusers,
# accelerate, torchao and xgrammar, and of what they or the backend need that such a machine
# may lack: apache-tvm-ffi, pydantic, pydantic-core, annotated-types, typing-inspection,
# typing-extensions, pillow, jsonschema, jsonschema-specifications, referencing, rpds-py, attrs,
# requests, urllib3, idna, charset-normalizer, certifi, psutil, pyyaml, coloraide,
# importlib-metadata, zipp. Fill it on a machine with network access, e.g.:
#
#     pip download --no-deps --python-version 3.12 --only-binary=:all: \
#         --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
#         -d .cache/gpu-wheels diffusers==0.42.1 accelerate==1.15.0 torchao==0.18.0 xgrammar==0.2.9 ...
set -euo pipefail

cd "$(dirname "$0")/.."
WHEELS="${WHEELS:-.cache/gpu-wheels}"
OUT="${OUT:-$PWD/out}"
BUDGET_S="${BUDGET_S:-400}"
LIMIT_S="${LIMIT_S:-450}"
VENV="${VENV:-${TMPDIR:-/tmp}/atelier-gpu-venv}"
PROFILE="${PROFILE:-.cache/profile_texture.json}"
mkdir -p "$OUT"

PYTHON="$VENV/bin/python"
PIP=("$PYTHON" -m pip)
if ! python3 -m venv --system-site-packages "$VENV"; then
    # No ensurepip (a Debian python3 without python3-venv): the machine's pip installs into it.
    python3 -m venv --system-site-packages --without-pip "$VENV"
    PIP=(python3 -m pip --python "$PYTHON")
fi
# Only what is missing: a wheel carried here never replaces the machine's own build of a package.
missing=()
for wheel in "$WHEELS"/*.whl; do
    name="$(basename "$wheel")"
    name="${name%%-*}"
    if ! "$PYTHON" -c "import importlib.metadata, sys; importlib.metadata.version(sys.argv[1])" "$name" \
        2>/dev/null; then
        missing+=("$wheel")
    fi
done
if ((${#missing[@]})); then
    "${PIP[@]}" install --quiet --no-index --no-deps "${missing[@]}"
fi
"$PYTHON" - <<'EOF' | tee "$OUT/gpu_versions.txt"
import importlib.metadata
for name in ("torch", "transformers", "diffusers", "accelerate", "torchao", "xgrammar", "huggingface_hub",
             "pillow"):
    try:
        print(name, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        print(name, "missing")
EOF

# Blender's part of button to material: the options' own, else the carried profile's.
blender=()
if [[ " $* " != *" --blender-"* ]]; then
    if [[ -f "$PROFILE" ]]; then
        blender=(--blender-json "$PROFILE")
    else
        echo "no $PROFILE: button to material will read 'not measured' (see this script's header)" >&2
    fi
fi

export HF_HUB_OFFLINE=1
# The exit status is gpu_fast.py's (pipefail): non-zero when an item failed or a mode broke its PSNR
# bound, or 124 when the run was stopped at LIMIT_S.
timeout -k 10 "$LIMIT_S" "$PYTHON" bench/gpu_fast.py --json "$OUT/gpu_fast.json" --budget-s "$BUDGET_S" \
    "${blender[@]}" "$@" 2>&1 | tee "$OUT/gpu_fast.log"
