"""The ``models`` task: the models Atelier knows and what the local cache holds of each.

Reads the Hugging Face cache only (never the network): ``data`` is ``{"models": [...]}``, one
row per model of ``core.model_catalog`` plus any other model Atelier downloaded, each with its
cached revisions (``backend.model_manager.list_models``).
"""

from __future__ import annotations

from core import protocol

from .. import model_manager
from ..task_context import JobContext, TaskOutput


def run(request: protocol.ModelsRequest, job: JobContext) -> TaskOutput:
    """List the known models with their cached revisions."""
    return TaskOutput(data={"models": model_manager.list_models()})
