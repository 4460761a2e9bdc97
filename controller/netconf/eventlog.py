"""The bounded, persistent log behind RFC 5277 replay.

Why a file: a replay (<create-subscription> with <startTime>, RFC 5277 §2.1.1) is most
needed right after a restart, when an operator asks what happened while the controller was
down or coming up (a confirmed commit a restart reverted, devices that went away). An
in-memory log loses exactly those events.

Format: one JSON object per line (sequence number, stream, eventTime, the notification
content as XML), appended and flushed per event, file mode 0600 (events name users and
hosts). A process killed mid-write leaves at most a torn last line, which loading skips.
The file holds at most twice `capacity` lines: beyond that it is rewritten with the latest
`capacity` through a temporary file and an atomic rename, so a crash during compaction
leaves either the old or the new file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    stream: str
    event_time: str
    content: bytes      # the notification's content element, serialised


class EventLog:
    """The latest `capacity` events on disk at `path` (see the module docstring)."""

    def __init__(self, path: Path, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.path, self.capacity = path, capacity
        self._lock = threading.Lock()
        self._loaded = list(self._read())[-capacity:]
        self.created = self._creation_time()
        self._lines = len(self._loaded)
        self._rewrite(self._loaded)

    def _creation_time(self) -> str:
        """When this log was first created (RFC 8639 §2.1 replay-log-creation-time): kept
        beside it, since compaction replaces the log file itself."""
        stamp = self.path.with_name(self.path.name + ".created")
        try:
            return stamp.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            stamp.write_text(now + "\n", encoding="utf-8")
            return now

    def loaded(self) -> list[LoggedEvent]:
        """The events found on disk at start, oldest first."""
        return list(self._loaded)

    def append(self, event: LoggedEvent, recent: Callable[[], list[LoggedEvent]]) -> None:
        """Append `event`; `recent()` (the latest events, oldest first, `event` last) is
        what a compaction keeps."""
        with self._lock:
            if self._lines >= 2 * self.capacity:
                self._rewrite(recent()[-self.capacity:])
                return
            with self.path.open("a", encoding="utf-8") as out:
                out.write(_line(event))
            self._lines += 1

    def _read(self) -> Iterator[LoggedEvent]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for number, line in enumerate(text.splitlines(), 1):
            try:
                raw = json.loads(line)
                yield LoggedEvent(int(raw["seq"]), str(raw["stream"]), str(raw["time"]),
                                  str(raw["xml"]).encode())
            except (ValueError, KeyError, TypeError):
                log.warning("netconf.event_log_line_skipped", path=str(self.path),
                            line=number)

    def _rewrite(self, events: list[LoggedEvent]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(_line(e) for e in events)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._lines = len(events)


def _line(event: LoggedEvent) -> str:
    return json.dumps({"seq": event.seq, "stream": event.stream, "time": event.event_time,
                       "xml": event.content.decode()}) + "\n"
