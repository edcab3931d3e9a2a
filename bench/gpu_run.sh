#!/usr/bin/env bash
# The GPU benchmark (bench/gpu_fast.py) in one command on a GPU machine whose python3 has torch and
# transformers but no diffusers, torchao or xgrammar, and no network. Run from anywhere:
#
#     bash bench/gpu_run.sh [gpu_fast.py options, e.g. --items, --budget-s, --min-compile-left-s]
#
# On the lent H200 (its python3 is /opt/torch/.venv/bin/python3, itself a virtual environment's
# interpreter, holding torch, transformers, accelerate, peft and numpy), through the device tool:
#
#     run(command="bash bench/gpu_run.sh", carry=[".cache/gpu-wheels", ".cache/profile_texture.json"],
#         timeout_s=510)
#
# timeout_s is LIMIT_S (450 s) plus about 60 s for installing the wheels and the preflight; the
# whole stays within 540 s and the script within 8 minutes, compilation included.
#
# What it does:
# 1. No virtual environment: a venv made from that python3 with --system-site-packages would see
#    the BASE interpreter's packages, not torch's. Instead it asks python3 (PYTHON3 names another
#    interpreter) which carried wheels' distributions it lacks, installs only those, offline and
#    without their dependencies, into SITE (default ${TMPDIR:-/tmp}/atelier-gpu-site) and puts
#    SITE first on PYTHONPATH. A package the machine has is never replaced, whatever its version,
#    except typing-extensions when the machine's is older than the carried one (the carried
#    pydantic, which xgrammar needs, wants 4.16 or later; a newer one serves older users alike).
# 2. gpu_fast.py's preflight, before any model work: imports torch, diffusers, transformers,
#    accelerate, torchao, xgrammar (and peft.tuners.tuners_utils where peft is installed: diffusers
#    imports it in every UNet call) and prints their versions, and on a real run (not --tiny)
#    checks that torch sees a CUDA GPU; any failure stops the run in seconds, naming each one,
#    except torchao and xgrammar, which only some items need: the line says what they cost.
# 3. The items, cheap figures first and the SDXL UNet's compile (minutes) after them (see
#    gpu_fast.py). No item or mode starts after BUDGET_S (400 s), no compiled mode with less than
#    --min-compile-left-s (200 s) of it left (marked skipped; the uncompiled modes still run),
#    and the script is stopped at LIMIT_S (450 s). The JSON is written after every figure, so a
#    run cut short keeps what it measured. A later run can pick items, in the order given:
#
#        bash bench/gpu_run.sh --items sdxl-turbo,sd-turbo-int8-compiled
#        bash bench/gpu_run.sh --items sd-turbo,compile-cache    # the compile cache needs sd-turbo first
#
# The figures land in $OUT/gpu_fast.json (OUT defaults to ./out), everything printed (the install
# and the preflight too) in $OUT/gpu_fast.log.
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
# .cache/gpu-wheels (git-ignored, about 27 MiB) holds the wheels pinned in bench/gpu-wheels.txt
# (diffusers, accelerate, torchao, xgrammar and what they or the backend need that such a machine
# may lack) for CPython 3.12 on x86-64 Linux. A new checkout has neither it nor the profile above:
# `bash bench/gpu_prepare.sh` makes both on the CPU machine, in about a minute.
set -euo pipefail
shopt -s nullglob

cd "$(dirname "$0")/.."
PYTHON3="${PYTHON3:-python3}"
WHEELS="${WHEELS:-.cache/gpu-wheels}"
SITE="${SITE:-${TMPDIR:-/tmp}/atelier-gpu-site}"
OUT="${OUT:-$PWD/out}"
BUDGET_S="${BUDGET_S:-400}"
LIMIT_S="${LIMIT_S:-450}"
PROFILE="${PROFILE:-.cache/profile_texture.json}"
mkdir -p "$OUT"

install_missing() {
    local carried=("$WHEELS"/*.whl) missing
    if ((${#carried[@]} == 0)); then
        echo "no wheels in $WHEELS: nothing installed (on the GPU machine, carry .cache/gpu-wheels along)"
        return
    fi
    # Asked before SITE is on the path: what the interpreter itself has.
    missing="$("$PYTHON3" - "${carried[@]}" <<'EOF'
import importlib.metadata
import sys
from pathlib import Path

# Installed too when the machine's copy is older than the carried one: the carried pydantic
# needs typing-extensions >= 4.16, and a newer typing-extensions serves older users alike.
NEWER_WANTED = {"typing_extensions"}


def release(version: str) -> tuple:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


for wheel in sys.argv[1:]:
    name, carried = Path(wheel).name.split("-")[:2]  # a wheel's name: distribution-version-...
    try:
        there = importlib.metadata.version(name)  # names are normalised, as lookups are
    except importlib.metadata.PackageNotFoundError:
        print(wheel)
        continue
    if name in NEWER_WANTED and release(there) < release(carried):
        print(wheel)
EOF
)"
    if [[ -z "$missing" ]]; then
        echo "no carried wheel is missing from $PYTHON3 (wheels: $WHEELS)"
        return
    fi
    local wheels
    mapfile -t wheels <<<"$missing"
    echo "installing into $SITE what $PYTHON3 lacks: $(basename -a "${wheels[@]}" | tr '\n' ' ')"
    "$PYTHON3" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --disable-pip-version-check --root-user-action=ignore --target "$SITE" "${wheels[@]}"
}

run() {
    install_missing
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"

    # Blender's part of button to material: the options' own, else the carried profile's.
    local blender=()
    if [[ " $* " != *" --blender-"* ]]; then
        if [[ -f "$PROFILE" ]]; then
            blender=(--blender-json "$PROFILE")
        else
            echo "no $PROFILE: button to material will read 'not measured' (see this script's header)"
        fi
    fi

    export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
    # gpu_fast.py's exit status: non-zero when the preflight or an item failed or a mode broke its
    # PSNR bound, 124 when it was stopped at LIMIT_S.
    timeout -k 10 "$LIMIT_S" "$PYTHON3" bench/gpu_fast.py --json "$OUT/gpu_fast.json" \
        --budget-s "$BUDGET_S" "${blender[@]}" "$@"
}

run "$@" 2>&1 | tee "$OUT/gpu_fast.log"
