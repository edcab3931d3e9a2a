"""The ``download`` task: put a hub model in the Hugging Face cache, safetensors and configs only.

Progress counts bytes (``step`` of ``total``, ``stage`` names the file); a cancel stops it
between files or at the next chunk, and a cancel or failure leaves nothing of it in the cache
(``backend.model_manager.download``).
"""

from __future__ import annotations

from core import protocol

from .. import model_manager
from ..task_context import JobContext, TaskOutput


def run(request: protocol.DownloadRequest, job: JobContext) -> TaskOutput:
    """Download ``request.model``; ``data`` says which revision and how many bytes."""
    data = model_manager.download(request.model, request.revision, request.accept_licence,
                                  job.progress, job.cancel_event)
    return TaskOutput(data=data)
