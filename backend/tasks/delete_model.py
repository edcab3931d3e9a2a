"""The ``delete_model`` task: remove one cached revision that Atelier downloaded.

Refused (``bad_request``) for a revision Atelier's record does not hold: those belong to
whoever put them there (``backend.model_manager.delete``).
"""

from __future__ import annotations

from core import protocol

from .. import model_manager
from ..task_context import JobContext, TaskOutput


def run(request: protocol.DeleteModelRequest, job: JobContext) -> TaskOutput:
    """Delete the revision; ``data`` says how many bytes were freed."""
    return TaskOutput(data=model_manager.delete(request.model, request.revision))
