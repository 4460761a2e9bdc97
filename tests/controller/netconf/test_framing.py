"""RFC 6242 framing: message boundaries across reads, strict chunk syntax, and the cap on
what one message may make the reader hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.netconf.framing import (
    EOM,
    FrameReader,
    FramingError,
    MessageTooBig,
    PeerClosed,
    frame,
    message_id_of,
)


def feeder(data: bytes, step: int) -> FrameReader:
    """A reader over `data`, delivered `step` bytes per recv (then EOF)."""
    chunks: Iterator[bytes] = (data[i:i + step] for i in range(0, len(data), step))
    return FrameReader(lambda _n: next(chunks, b""), max_size=1024)


@pytest.mark.parametrize("step", [1, 2, 5, 7, 4096])
def test_end_of_message_framing_across_reads(step: int) -> None:
    reader = feeder(b"<a/>" + EOM + b"<b>]]></b>" + EOM + b"<c/>" + EOM, step)
    assert [reader.read(), reader.read(), reader.read()] == [b"<a/>", b"<b>]]></b>", b"<c/>"]
    with pytest.raises(PeerClosed):
        reader.read()


@pytest.mark.parametrize("step", [1, 3, 4096])
def test_chunked_framing_across_reads(step: int) -> None:
    data = b"\n#4\n<rpc\n#17\n message-id='1'/>\n##\n" + frame(b"<second/>", chunked=True)
    reader = feeder(data, step)
    reader.chunked = True
    assert reader.read() == b"<rpc message-id='1'/>"
    assert reader.read() == b"<second/>"
    assert reader.pending == 0


@pytest.mark.parametrize("bad", [b"\n#0\n", b"\n#01\n", b"\n#x\n", b"#4\n", b"\n##\n",
                                 b"\n#12345678901\n", b"\r\n#4\n"])
def test_invalid_chunk_syntax(bad: bytes) -> None:
    reader = feeder(bad + b"abcd\n##\n", 1)
    reader.chunked = True
    with pytest.raises(FramingError):
        reader.read()


def _endless(prefix: bytes, counter: list[int]) -> FrameReader:
    """A peer sending `prefix` and then 100 MB of filler, counting what was read."""
    total = 100 * 1024 * 1024
    block = b"x" * 65536

    def recv(_n: int) -> bytes:
        if counter[0] == 0:
            counter[0] += len(prefix)
            return prefix
        if counter[0] >= total:
            return b""
        counter[0] += len(block)
        return block

    return FrameReader(recv, max_size=1 << 20)


@pytest.mark.parametrize("chunked", [False, True])
def test_hundred_megabytes_are_never_buffered(chunked: bool) -> None:
    head = b'<rpc message-id="42" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    counter = [0]
    reader = _endless((b"\n#104857600\n" if chunked else b"") + head, counter)
    reader.chunked = chunked
    with pytest.raises(MessageTooBig) as exc:
        reader.read()
    assert counter[0] <= (1 << 20) + 2 * 65536  # stopped right after the cap
    assert reader.pending == 0
    assert message_id_of(exc.value.head) == "42"


def test_message_id_of_quotes() -> None:
    assert message_id_of(b"<rpc message-id='a b'>") == "a b"
    assert message_id_of(b'<rpc  message-id = "7"') == "7"
    assert message_id_of(b"<rpc>") is None


def test_timeouts_resume_where_they_stopped() -> None:
    parts = [b"\n#5", TimeoutError(), b"\nab", TimeoutError(), b"cde\n##\n"]

    def recv(_n: int) -> bytes:
        item = parts.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    reader = FrameReader(recv, max_size=100)
    reader.chunked = True
    for _ in range(2):
        with pytest.raises(TimeoutError):
            reader.read()
    assert reader.read() == b"abcde"
