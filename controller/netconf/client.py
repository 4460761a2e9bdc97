"""Minimal NETCONF clients (RFC 6242 framing), for benchmarks and raw tests.

They speak exactly what they are told: `send_raw` puts bytes on the stream unframed, so
tests can send garbage or broken framing; `rpc` frames one request and waits for the
next message. No reader thread and no polling, so they measure the server, not
themselves. `RawNetconfClient` runs over SSH (paramiko, password or private key);
`PipeNetconfClient` over the stdin/stdout of a local command that relays NETCONF, such
as a server's SSH subsystem program started without sshd.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from typing import Protocol

import paramiko
from lxml import etree

import controller.netconf.ssh_mac  # noqa: F401  (paramiko's MAC check in C)
from controller.netconf.framing import FrameReader, frame

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
CLIENT_HELLO = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{NC_NS}"><capabilities>'
                "<capability>urn:ietf:params:netconf:base:1.0</capability>"
                "<capability>urn:ietf:params:netconf:base:1.1</capability>"
                "</capabilities></hello>").encode()


class NetconfRpcClient(Protocol):
    """What a benchmark needs of a NETCONF session, whatever carries it."""

    session_id: int

    def rpc(self, operation: str) -> etree._Element: ...

    def close(self) -> None: ...


class _FramedSession:
    """Hello exchange and request/reply over a byte stream (RFC 6241 §8.1, RFC 6242 §4)."""

    reader: FrameReader
    server_hello: etree._Element
    session_id: int
    _ids: itertools.count[int]

    def _start(self, recv: FrameReader, hello: bytes | None) -> None:
        self.reader = recv
        self.server_hello = etree.fromstring(self.reader.read())
        self.session_id = int(self.server_hello.findtext(f"{{{NC_NS}}}session-id") or 0)
        self._ids = itertools.count(1)
        if hello is not None:
            self.send_raw(frame(hello, chunked=False))
            self.reader.chunked = b"base:1.1" in hello

    def send_raw(self, data: bytes) -> None:
        raise NotImplementedError

    def send(self, message: bytes) -> None:
        self.send_raw(frame(message, self.reader.chunked))

    def receive(self) -> bytes:
        return self.reader.read()

    def rpc(self, operation: str) -> etree._Element:
        """Send `<rpc>` around `operation` (XML text) and return the parsed reply."""
        message_id = next(self._ids)
        self.send(f'<rpc xmlns="{NC_NS}" message-id="{message_id}">{operation}</rpc>'.encode())
        return etree.fromstring(self.receive())


class RawNetconfClient(_FramedSession):
    """NETCONF over SSH (RFC 6242): password or public-key authentication."""

    def __init__(self, host: str, port: int, username: str, password: str | None = None, *,
                 key_filename: str | None = None,
                 timeout: float = 10.0, hello: bytes | None = CLIENT_HELLO,
                 max_size: int = 1 << 30) -> None:
        self.ssh = paramiko.SSHClient()
        self.ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see server._serve
        try:
            self.ssh.connect(host, port=port, username=username, password=password,
                             key_filename=key_filename, sock=sock, look_for_keys=False,
                             allow_agent=False, timeout=timeout)
            transport = self.ssh.get_transport()
            assert transport is not None
            self.channel = transport.open_session(timeout=timeout)
            self.channel.settimeout(timeout)
            self.channel.invoke_subsystem("netconf")
            self._start(FrameReader(self.channel.recv, max_size), hello)
        except BaseException:
            self.ssh.close()
            sock.close()
            raise

    def send_raw(self, data: bytes) -> None:
        self.channel.sendall(data)

    def close(self) -> None:
        self.ssh.close()


class PipeNetconfClient(_FramedSession):
    """NETCONF over the stdin/stdout of a child command (the transport SSH would carry).

    The command's own exit status and CPU are the caller's to read from `process`.
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 hello: bytes | None = CLIENT_HELLO, max_size: int = 1 << 30) -> None:
        self.process = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=None if env is None else dict(env), bufsize=0)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin.fileno()
        out = self.process.stdout.fileno()
        try:
            self._start(FrameReader(lambda size: os.read(out, size), max_size), hello)
        except BaseException:
            self.close()
            raise

    def send_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._in, view):]

    def close(self, timeout: float = 5.0) -> None:
        """End the session by closing the command's stdin (its EOF is the client leaving)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
