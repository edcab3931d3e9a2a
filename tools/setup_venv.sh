# Sourced by demo.sh and test.sh: makes .venv (Python 3.11, real Blender as the bpy module and
# the backend's stack) from nothing, or brings it up to $REQUIREMENTS (default
# requirements-dev.txt; the built-in demo needs only requirements-demo.txt).
PYTHON="${PYTHON:-python3.11}"
REQUIREMENTS="${REQUIREMENTS:-requirements-dev.txt}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
