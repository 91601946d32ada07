"""Outbound address policy (SSRF). (Interim version: replaced by the full policy.)"""
import socket


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host name resolves to, as strings. Tests replace this to stub DNS."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
