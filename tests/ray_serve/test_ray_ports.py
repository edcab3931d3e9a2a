"""The local Ray that ``ray-serve`` starts listens on loopback: its GCS, raylet, agents, workers
and Atelier's port. The one exception is Ray Serve's own: each replica opens an inter-deployment
gRPC port on all interfaces, which Ray offers no setting for (the README says to firewall it)."""

import ipaddress
import os
import socket
from pathlib import Path

from ray_server import session_processes

LISTEN = "0A"


def listening_sockets() -> dict[str, tuple[str, int]]:
    """{socket inode: (address, port)} of every listening TCP socket on this machine (Linux)."""
    found = {}
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            raw, port = fields[1].split(":")
            packed = bytes.fromhex(raw)
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            packed = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
            found[fields[9]] = (socket.inet_ntop(family, packed), int(port, 16))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def sockets_of(pid: int, sockets: dict) -> list[tuple[str, int]]:
    held = []
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            target = os.readlink(fd.path) if fd.is_symlink() else ""
            if target.startswith("socket:[") and target[8:-1] in sockets:
                held.append(sockets[target[8:-1]])
    except OSError:  # the process ended meanwhile
        pass
    return held


def test_ray_listens_on_loopback_only(ray_backend):
    sockets = listening_sockets()
    exposed = {}
    replica_ports = []
    for pid in session_processes(ray_backend.pid):
        name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        for address, port in sockets_of(pid, sockets):
            if is_loopback(address):
                continue
            if name.startswith("ray::ServeReplica:"):
                replica_ports.append(port)
            else:
                exposed.setdefault(name, []).append((address, port))
    assert not exposed, f"listening beyond loopback: {exposed}"
    replicas = [pid for pid in session_processes(ray_backend.pid)
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ServeReplica:")]
    assert len(replica_ports) <= len(replicas), replica_ports  # at most Serve's one port per replica
    assert ray_backend.url.startswith("http://127.0.0.1:")


def test_rays_own_token_file_is_private(ray_backend):
    """Ray keeps its local cluster's token in ~/.ray/auth_token: nobody else may read it."""
    token_file = Path.home() / ".ray" / "auth_token"
    assert token_file.exists()
    assert token_file.stat().st_mode & 0o077 == 0, oct(token_file.stat().st_mode)
