"""Backend client: starts the backend process and moves protocol lines to and from it.

No bpy here (unit-testable outside Blender). ``BackendClient`` speaks the protocol over a
``Transport``: ``SubprocessTransport`` (stdin/stdout pipes to the backend process),
``remote_transport.RemoteTransport`` (a remote backend, ``python -m backend ray-serve``, over
HTTP; ``remote_config.RemoteConfig``) or ``text_server.TextServerTransport`` (palettes from a
prompt and scene ideas from an OpenAI-compatible server, answered in the same protocol lines).
"""

from .backend_client import BackendClient, BackendConfig
from .transport import SubprocessTransport, Transport, TransportClosed

__all__ = ["BackendClient", "BackendConfig", "SubprocessTransport", "Transport", "TransportClosed"]
