"""Backend client: starts the backend process and moves protocol lines to and from it.

No bpy here (unit-testable outside Blender). ``BackendClient`` speaks the protocol over a
``Transport``; ``SubprocessTransport`` is the one transport today (stdin/stdout pipes).
"""

from .backend_client import BackendClient, BackendConfig
from .transport import SubprocessTransport, Transport, TransportClosed

__all__ = ["BackendClient", "BackendConfig", "SubprocessTransport", "Transport", "TransportClosed"]
