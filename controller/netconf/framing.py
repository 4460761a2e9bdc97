"""RFC 6242 message framing over a byte stream, with a hard cap on message size.

Two framings exist: end-of-message (`]]>]]>`, base:1.0, always used for <hello>) and
chunked (base:1.1, RFC 6242 §4.2). The reader never holds more than `max_size` bytes of
one message: past the cap it raises `MessageTooBig` carrying only the message head (so
the session can still quote the rpc's message-id), instead of buffering what a hostile
or broken peer keeps sending. A framing error means the message boundary is lost, so the
caller has to end the session; a too-big message can be answered first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EOM = b"]]>]]>"
END_OF_CHUNKS = b"\n##\n"
MAX_CHUNK_SIZE = 4294967295  # RFC 6242 §4.2: chunk-size = 1..4294967295
_HEAD_BYTES = 4096
_RECV_BYTES = 65536
_CHUNK_HEADER = re.compile(rb"\n#([1-9][0-9]{0,9})\n")


class FramingError(Exception):
    """The byte stream does not follow the negotiated framing (RFC 6242 §4)."""


class PeerClosed(Exception):
    """The peer closed its side of the channel."""


class MessageTooBig(Exception):
    """A message grew past the configured maximum; `head` holds its first bytes."""

    def __init__(self, head: bytes, limit: int) -> None:
        super().__init__(f"message exceeds {limit} bytes")
        self.head = head
        self.limit = limit


Recv = Callable[[int], bytes]


def frame(message: bytes, chunked: bool) -> bytes:
    """One message, framed for sending (a single chunk is valid RFC 6242 §4.2 framing)."""
    if chunked:
        return b"\n#%d\n%s\n##\n" % (len(message), message)
    return message + EOM


class FrameReader:
    """Reads whole messages from `recv` (which returns b"" on EOF and may raise timeouts).

    `recv` timeouts propagate to the caller with the partial state kept, so a reader can
    be polled: calling `read()` again resumes where it stopped.
    """

    def __init__(self, recv: Recv, max_size: int) -> None:
        self._recv = recv
        self.max_size = max_size
        self.chunked = False
        self._buf = bytearray()
        self._parts: list[bytes] = []   # chunks of the message being assembled (base:1.1)
        self._size = 0
        self._scan_from = 0             # where to resume looking for ]]>]]> (base:1.0)
        self._want: int | None = None   # size of the chunk being received (base:1.1)

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as part of a message."""
        return len(self._buf) + self._size

    def _fill(self) -> None:
        data = self._recv(_RECV_BYTES)
        if not data:
            raise PeerClosed("peer closed the channel")
        self._buf += data

    def read(self) -> bytes:
        return self._read_chunked() if self.chunked else self._read_eom()

    # -- base:1.0 ------------------------------------------------------------------------

    def _read_eom(self) -> bytes:
        while True:
            idx = self._buf.find(EOM, self._scan_from)
            if idx >= 0:
                if idx > self.max_size:
                    raise self._too_big(bytes(self._buf[:_HEAD_BYTES]))
                message = bytes(self._buf[:idx])
                del self._buf[:idx + len(EOM)]
                self._scan_from = 0
                return message
            if len(self._buf) > self.max_size + len(EOM):
                raise self._too_big(bytes(self._buf[:_HEAD_BYTES]))
            self._scan_from = max(0, len(self._buf) - len(EOM) + 1)
            self._fill()

    # -- base:1.1 (RFC 6242 §4.2) --------------------------------------------------------

    def _read_chunked(self) -> bytes:
        while True:
            if self._want is None:
                header = self._chunk_header()
                if header is None:  # end-of-chunks
                    if not self._parts:
                        raise FramingError("end-of-chunks marker without a chunk")
                    message = b"".join(self._parts)
                    self._parts, self._size = [], 0
                    return message
                self._want = header
            if self._size + self._want > self.max_size:
                if not self._parts and len(self._buf) < min(self._want, _HEAD_BYTES // 8):
                    self._fill()  # a little of the head, to find the message-id
                    continue
                head = b"".join(self._parts)[:_HEAD_BYTES] or bytes(self._buf[:_HEAD_BYTES])
                raise self._too_big(head)
            while len(self._buf) < self._want:
                self._fill()
            self._parts.append(bytes(self._buf[:self._want]))
            self._size += self._want
            del self._buf[:self._want]
            self._want = None

    def _chunk_header(self) -> int | None:
        """Size of the next chunk, or None at end-of-chunks; strict RFC 6242 §4.2 syntax."""
        while True:
            if self._buf.startswith(END_OF_CHUNKS):
                del self._buf[:len(END_OF_CHUNKS)]
                return None
            match = _CHUNK_HEADER.match(self._buf)
            if match:
                size = int(match.group(1))
                if size > MAX_CHUNK_SIZE:
                    raise FramingError(f"chunk size {size} out of range")
                del self._buf[:match.end()]
                return size
            # Not complete yet: it may still become a valid header, or is already wrong.
            if not _may_become_header(bytes(self._buf[:13])):
                raise FramingError(f"invalid chunk header {bytes(self._buf[:16])!r}")
            self._fill()

    def _too_big(self, head: bytes) -> MessageTooBig:
        # Drop what we hold: the session ends after the reply, nothing else is read.
        self._buf.clear()
        self._parts, self._size, self._want = [], 0, None
        return MessageTooBig(head, self.max_size)


def _may_become_header(prefix: bytes) -> bool:
    """True when `prefix` is a proper prefix of some "\\n#<size>\\n" or "\\n##\\n"."""
    if not prefix:
        return True
    if not b"\n#".startswith(prefix[:2]):
        return False
    rest = prefix[2:]
    if not rest:
        return True
    if rest.startswith(b"#"):
        return rest == b"#"
    digits = rest
    if not digits[:1].isdigit() or digits[:1] == b"0":
        return False
    return digits.isdigit() and len(digits) <= 10


MESSAGE_ID = re.compile(rb"""message-id\s*=\s*(?:"([^"]{0,256})"|'([^']{0,256})')""")


def message_id_of(head: bytes) -> str | None:
    """Best-effort message-id from the first bytes of a message too big to parse."""
    match = MESSAGE_ID.search(head)
    if not match:
        return None
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    # Echoed into an XML attribute: a value XML 1.0 cannot carry (a control character,
    # XML 1.0 §2.2 Char; or markup) is not quoted at all rather than failing the reply.
    return text if _ATTRIBUTE_SAFE.fullmatch(text) else None


_ATTRIBUTE_SAFE = re.compile("[\t\n\r\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd"
                             "\U00010000-\U0010ffff]*")
