#!/usr/bin/env bash
# The headless demo on a fresh machine: sets up the environment (a Python 3.11 venv with real
# Blender as the bpy module, plus the backend's stack when a model is named), then textures an
# object, builds a scene-idea block-out, recolours it with a colour scheme and writes
# out/demo.blend and a rendered out/demo.png.
#
# The texture engine is ATELIER_TEXTURE_MODEL (default: builtin, which needs no weights and no
# network). For the diffusion model: ATELIER_TEXTURE_MODEL=stabilityai/sdxl-turbo (downloaded
# once, see the README's Install section) or a local diffusers folder.
set -euo pipefail
cd "$(dirname "$0")/.."

# The built-in engine needs no torch: install the backend's stack only when a model is named.
if [ "${ATELIER_TEXTURE_MODEL:-builtin}" = builtin ] && [ "${ATELIER_TEXT_MODEL:-builtin}" = builtin ]; then
  REQUIREMENTS=requirements-demo.txt
fi
source tools/setup_venv.sh

export ATELIER_PYTHON="${ATELIER_PYTHON:-$PWD/.venv/bin/python}"
export ATELIER_TEXTURE_MODEL="${ATELIER_TEXTURE_MODEL:-builtin}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
exec .venv/bin/python tools/demo.py "$@"
