"""Atelier's shared core: what Blender and the model backend both import.

The protocol messages, error codes and limits, the JSON schemas and their validator, the rules
for scene ideas and colour schemes, the provenance record, model families and default model
ids. Standard library, numpy and coloraide only: never bpy, never torch. Blender imports it as
part of the extension (``from ..core import protocol``); the backend, run as ``python -m backend``
from the extension folder, imports it as the top-level package ``core``.
"""

__version__ = "0.1.0"
