"""ncclient SSH sessions without the 100 ms poll.

Stock ncclient's session thread sleeps in `select(timeout=TICK)` (TICK = 0.1 s) and only
then notices a queued request, so every RPC waits up to 100 ms before it is written
(≈ 10 RPC/s on one session). `WakeableSSHSession` registers one end of a socketpair with
the session's selector next to the SSH channel and writes a byte to the other end when a
message is queued or the session closes. The thread blocks in `select()` with no timeout
and wakes exactly when there is something to do: no polling, no busy loop, and ncclient's
parser, listeners and Manager API stay as they are.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
from typing import Any

from ncclient import manager as nc_manager
from ncclient.transport.errors import SessionCloseError
from ncclient.transport.parser import DefaultXMLParser, SAXFilterXMLNotFoundError
from ncclient.transport.session import NetconfBase
from ncclient.transport.ssh import SSHSession

_MSG_DELIM = b"]]>]]>"  # RFC 6242 §4.3 (base:1.0 end-of-message)
_END_CHUNKS = b"\n##\n"  # RFC 6242 §4.2 (base:1.1 end-of-chunks)


class WakeableSSHSession(SSHSession):  # type: ignore[misc]
    """An ncclient SSHSession whose I/O thread is woken by `send()` instead of a timer."""

    def __init__(self, device_handler: Any) -> None:
        super().__init__(device_handler)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def _wake(self) -> None:
        # BlockingIOError: a wake-up is already pending; OSError: the session is gone.
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def send(self, message: str) -> None:
        super().send(message)
        self._wake()

    def close(self) -> None:
        self._closing.set()
        self._wake()
        super().close()

    def _frame(self, data: bytes) -> bytes:
        if self._base == NetconfBase.BASE_11:
            return b"\n#%d\n%s%s" % (len(data), data, _END_CHUNKS)
        return data + _MSG_DELIM

    def _flush_queue(self) -> bool:
        """Write queued messages; False while the channel cannot take more."""
        while not self._q.empty():
            if not self._send_ready():
                return False
            data = self._frame(self._q.get().encode())
            while data:
                n = self._transport_write(data)
                if n <= 0:
                    raise SessionCloseError(self._buffer.getvalue(), data)
                data = data[n:]
        return True

    def _feed(self, data: bytes) -> None:
        parser: Any = getattr(self, "parser")  # noqa: B009  (set by ncclient, untyped)
        try:
            parser.parse(data)
        except SAXFilterXMLNotFoundError:
            parser = DefaultXMLParser(self)
            self.parser = parser
            parser.parse(data)

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._channel, selectors.EVENT_READ, "channel")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                flushed = self._flush_queue()
                # Only a full SSH window makes us wait on a timer (paramiko has no
                # writable event); otherwise block until data or a wake-up arrives.
                events = selector.select(timeout=None if flushed else 0.001)
                for key, _ in events:
                    if key.data == "wake":
                        self._drain_wake()
                        continue
                    data = self._transport_read()
                    if data:
                        self._feed(data)
                    elif self._closing.is_set():
                        return
                    else:
                        raise SessionCloseError(self._buffer.getvalue())
                if self._closing.is_set() and self._q.empty() and not self._channel.recv_ready():
                    return
        except Exception as exc:  # ncclient's contract: errors go to the listeners
            self.logger.debug("session loop ended: %r", exc)
            self._dispatch_error(exc)
            self.close()
        finally:
            selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_r.recv(4096):
                pass


def connect(*, host: str, port: int, username: str, password: str | None = None,
            key_filename: str | None = None, timeout: float = 30.0,
            hostkey_verify: bool = False, fast: bool = True) -> nc_manager.Manager:
    """An ncclient Manager over SSH; `fast=False` gives stock ncclient (for comparison)."""
    if not fast:
        return nc_manager.connect_ssh(host=host, port=port, username=username,
                                      password=password, key_filename=key_filename,
                                      hostkey_verify=hostkey_verify, look_for_keys=False,
                                      allow_agent=False, timeout=timeout)
    handler = nc_manager.make_device_handler({"name": "default"})
    session = WakeableSSHSession(handler)
    sock = _open_ssh_socket(host, port, timeout)
    try:
        session.connect(host=host, port=port, username=username, password=password,
                        key_filename=key_filename, hostkey_verify=hostkey_verify,
                        look_for_keys=False, allow_agent=False, timeout=timeout, sock=sock)
    except Exception:
        if session.transport:
            session.close()
        sock.close()
        raise
    return nc_manager.Manager(session, handler, timeout=timeout)


def _open_ssh_socket(host: str, port: int, timeout: float) -> socket.socket:
    """TCP connect and wait (at most `timeout`) for the server's SSH banner.

    paramiko waits a fixed 15 s for the banner; a device that accepts TCP but never
    speaks (hung daemon, half-dead box) must fail within our own timeout instead.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if not sock.recv(4, socket.MSG_PEEK):
            raise ConnectionError(f"{host}:{port} closed the connection before SSH began")
    except TimeoutError:
        sock.close()
        raise TimeoutError(f"no SSH banner from {host}:{port} within {timeout:g} s") from None
    except BaseException:
        sock.close()
        raise
    return sock
