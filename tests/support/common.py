"""Values every test helper shares: the loopback host, a free port, the host's CA bundle, the semester."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"  # everything the tests start listens here only
# The host's trust store: pip inside build containers needs it (HTTPS passes a local CA here).
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
SEMESTER = "fall-2026"  # the semester the test classes name in class.yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port
