"""A minimal NETCONF client over paramiko (RFC 6242), for benchmarks and raw tests.

It speaks exactly what it is told: `send_raw` puts bytes on the channel unframed, so
tests can send garbage or broken framing; `rpc` frames one request and waits for the
next message. No reader thread and no polling, so it measures the server, not itself.
"""

from __future__ import annotations

import itertools
import socket

import paramiko
from lxml import etree

import controller.netconf.ssh_mac  # noqa: F401  (paramiko's MAC check in C)
from controller.netconf.framing import FrameReader, frame

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
CLIENT_HELLO = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{NC_NS}"><capabilities>'
                "<capability>urn:ietf:params:netconf:base:1.0</capability>"
                "<capability>urn:ietf:params:netconf:base:1.1</capability>"
                "</capabilities></hello>").encode()


class RawNetconfClient:
    def __init__(self, host: str, port: int, username: str, password: str, *,
                 timeout: float = 10.0, hello: bytes | None = CLIENT_HELLO,
                 max_size: int = 1 << 30) -> None:
        self.ssh = paramiko.SSHClient()
        self.ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see server._serve
        try:
            self.ssh.connect(host, port=port, username=username, password=password,
                             sock=sock, look_for_keys=False, allow_agent=False,
                             timeout=timeout)
            transport = self.ssh.get_transport()
            assert transport is not None
            self.channel = transport.open_session(timeout=timeout)
            self.channel.settimeout(timeout)
            self.channel.invoke_subsystem("netconf")
            self.reader = FrameReader(self.channel.recv, max_size)
            self.server_hello = etree.fromstring(self.reader.read())
        except BaseException:
            self.ssh.close()
            sock.close()
            raise
        self.session_id = int(self.server_hello.findtext(f"{{{NC_NS}}}session-id") or 0)
        self._ids = itertools.count(1)
        if hello is not None:
            self.send_raw(frame(hello, chunked=False))
            self.reader.chunked = b"base:1.1" in hello

    def send_raw(self, data: bytes) -> None:
        self.channel.sendall(data)

    def send(self, message: bytes) -> None:
        self.send_raw(frame(message, self.reader.chunked))

    def receive(self) -> bytes:
        return self.reader.read()

    def rpc(self, operation: str) -> etree._Element:
        """Send `<rpc>` around `operation` (XML text) and return the parsed reply."""
        message_id = next(self._ids)
        self.send(f'<rpc xmlns="{NC_NS}" message-id="{message_id}">{operation}</rpc>'.encode())
        return etree.fromstring(self.receive())

    def close(self) -> None:
        self.ssh.close()
