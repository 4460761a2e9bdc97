"""A bounded, in-memory time series of what the network did: per-link, per-node and
per-service samples, alarm events and commit events, for post-incident analysis (the console's time
slider, the sdqn-history rpcs).

Bounded twice: by age (`retention_s`, the `history.hours` setting) and by a hard sample
cap (memory). Each (kind, resource) series is a list ordered by time, so a range query is
a bisection per series (O(log n) to find the range, then the samples it returns);
eviction removes the oldest sample of the whole store through one insertion-ordered queue.
Times are the controller's wall clock when the sample was recorded, kept non-decreasing
(a clock stepped back does not reorder the series); what a sample says about when the
value was measured is one of its values (`last-updated`).

`snapshot(t)` is the state at t: per resource the last sample at or before t (a link, node
or service absent from every sample at or before t did not exist yet, or its samples aged
out), the alarms whose last event at or before t is not a clearance.

With a `SampleJournal` (controller/service/history_journal.py) every sample is also
written to disk, a recorder round at a time (`batch`), and a new store starts from the
retained samples there: a restart keeps the window. Without one, samples live in memory
only and a restart starts an empty series.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.service.history_journal import Row, SampleJournal

KINDS = ("link", "node", "service", "alarm", "commit")
DEFAULT_RETENTION_S = 24 * 3600.0
DEFAULT_MAX_SAMPLES = 200_000


def iso(t: float) -> str:
    """RFC 3339 date-and-time in UTC with microseconds (yang:date-and-time)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def on_grid(t: float) -> float:
    """`t` as its yang:date-and-time reads back: the instant `iso` prints, parsed."""
    return parse_time(iso(t))


def parse_time(text: str) -> float:
    """yang:date-and-time → epoch seconds; ValueError when it is not one."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (RFC 3339 §5.6)")
    return value.timestamp()


@dataclass(frozen=True)
class Sample:
    """One recorded value set of a resource. `event` says what happened for alarm
    (raised, changed, cleared) and commit events; link, node and service samples have
    none."""

    time: float
    kind: str
    resource: str
    values: Mapping[str, Any] = field(default_factory=dict)
    event: str = ""

    def members(self) -> dict[str, Any]:
        """RFC 7951 members of sdqn-history's sample list entry."""
        out: dict[str, Any] = {"time": iso(self.time), "kind": self.kind,
                               "resource": self.resource}
        if self.event:
            out["event"] = self.event
        out.update(self.values)
        return out


class OutOfWindow(ValueError):
    """A time outside what is retained; `leaf` names the input that asked for it."""

    def __init__(self, leaf: str, message: str) -> None:
        super().__init__(message)
        self.leaf = leaf


@dataclass
class _Series:
    resource: str
    times: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    head: int = 0     # samples before it are evicted (compacted away now and then)

    def append(self, sample: Sample) -> None:
        self.times.append(sample.time)
        self.samples.append(sample)

    def drop_oldest(self) -> None:
        self.head += 1
        if self.head > 64 and self.head * 2 > len(self.times):
            del self.times[:self.head]
            del self.samples[:self.head]
            self.head = 0

    def __len__(self) -> int:
        return len(self.times) - self.head

    def between(self, start: float, end: float) -> list[Sample]:
        lo = bisect.bisect_left(self.times, start, self.head)
        hi = bisect.bisect_right(self.times, end, lo)
        return self.samples[lo:hi]

    def at(self, t: float) -> Sample | None:
        """The last sample at or before t."""
        i = bisect.bisect_right(self.times, t, self.head)
        return self.samples[i - 1] if i > self.head else None


@dataclass(frozen=True)
class Snapshot:
    time: float
    links: dict[str, Sample]
    nodes: dict[str, Sample]
    services: dict[str, Sample]
    alarms: list[Sample]


class HistoryStore:
    """Thread-safe: one lock guards every series and the eviction queue."""

    def __init__(self, *, retention_s: float = DEFAULT_RETENTION_S,
                 max_samples: int = DEFAULT_MAX_SAMPLES,
                 clock: Callable[[], float] = time.time,
                 journal: SampleJournal | None = None) -> None:
        if retention_s <= 0 or max_samples < 1:
            raise ValueError("retention and the sample cap must be positive")
        self.retention_s = retention_s
        self.max_samples = max_samples
        self.clock = clock
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._order: deque[tuple[str, str]] = deque()   # one entry per retained sample
        self._last_time = 0.0
        #: the oldest instant whose state is fully known: start, or the newest evicted
        self._horizon = clock()
        self.journal = journal
        self._pending: list[Row] | None = None    # a batch's rows, written at its end
        if journal is not None:
            self._load(journal)

    def _load(self, journal: SampleJournal) -> None:
        """The retained samples of an earlier run, as they were recorded."""
        now = self.clock()
        horizon, rows = journal.read(now - self.retention_s)
        with self._lock:
            for t, kind, resource, series, event, values in rows:
                sample = Sample(t, kind, resource, values, event)
                key = (kind, series)
                self._series.setdefault(key, _Series(resource)).append(sample)
                self._order.append(key)
                self._last_time = max(self._last_time, t)
            if horizon is not None:
                self._horizon = min(self._horizon, horizon)
            self._evict(now)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Samples added inside the block reach the journal in one transaction."""
        with self._lock:
            outer = self._pending is not None
            if not outer:
                self._pending = []
        try:
            yield
        finally:
            if not outer:
                self._flush()

    def _flush(self) -> None:
        with self._lock:
            rows, self._pending = self._pending or [], None
        self._write(rows)

    def _write(self, rows: list[Row]) -> None:
        """`rows` to the journal, with the bounds and horizon as they are now."""
        with self._lock:
            cutoff, horizon = self.clock() - self.retention_s, self._horizon
        if rows and self.journal is not None:
            self.journal.write(rows, cutoff=cutoff, max_rows=self.max_samples,
                               horizon=horizon)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    # -- writing -------------------------------------------------------------------------

    def add(self, kind: str, resource: str, values: Mapping[str, Any] | None = None, *,
            event: str = "", at: float | None = None, series: str | None = None) -> Sample:
        """Record a sample now (or at `at`, kept non-decreasing within the store).
        `series` tells apart several series of one resource (an alarm-list entry is its
        resource, type and qualifier: RFC 8632 §3.4); by default the resource is one."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        with self._lock:
            # on the microsecond grid the rpcs print times in, so that a sample's printed
            # time, asked back (get-snapshot), finds that very sample
            t = on_grid(max(self.clock() if at is None else at, self._last_time))
            self._last_time = t
            sample = Sample(t, kind, resource, dict(values or {}), event)
            key = (kind, resource if series is None else series)
            self._series.setdefault(key, _Series(resource)).append(sample)
            self._order.append(key)
            self._evict(self.clock())
            row: Row | None = None
            if self.journal is not None:
                row = (t, kind, resource, key[1], event, dict(sample.values))
                if self._pending is not None:     # written when the batch ends
                    self._pending.append(row)
                    row = None
        if row is not None:
            self._write([row])
        return sample

    def _evict(self, now: float) -> None:
        cutoff = now - self.retention_s
        while self._order:
            key = self._order[0]
            series = self._series[key]
            oldest = series.times[series.head]
            if len(self._order) <= self.max_samples and oldest >= cutoff:
                break
            self._order.popleft()
            series.drop_oldest()
            if oldest > self._horizon:
                self._horizon = oldest
            if not len(series):
                del self._series[key]

    # -- reading -------------------------------------------------------------------------

    def window(self) -> tuple[float, float]:
        """(oldest, newest) instant a query may ask about: the retained window."""
        with self._lock:
            now = self.clock()
            self._evict(now)
            return max(self._horizon, now - self.retention_s), now

    def check_range(self, start: float | None, end: float | None) -> tuple[float, float]:
        """The range to read, defaults filled in; OutOfWindow naming the bad leaf."""
        first, now = self.window()
        start = first if start is None else start
        end = now if end is None else end
        if start > end:
            raise OutOfWindow("start", f"start {iso(start)} is after end {iso(end)}")
        if start < first:
            raise OutOfWindow("start", f"start {iso(start)} is before the retained "
                                       f"window {iso(first)} .. {iso(now)}")
        return start, end

    def check_time(self, t: float) -> None:
        first, now = self.window()
        if not first <= t <= now:
            raise OutOfWindow("time", f"time {iso(t)} is outside the retained window "
                                      f"{iso(first)} .. {iso(now)}")

    def __len__(self) -> int:
        with self._lock:
            return len(self._order)

    def query(self, start: float, end: float, *, kinds: Iterable[str] = KINDS,
              resource: str | None = None) -> list[Sample]:
        """Samples in [start, end], oldest first."""
        wanted = set(kinds)
        with self._lock:
            found: list[Sample] = []
            for (kind, _name), series in self._series.items():
                if kind in wanted and (resource is None or series.resource == resource):
                    found.extend(series.between(start, end))
        found.sort(key=lambda s: s.time)
        return found

    def snapshot(self, t: float) -> Snapshot:
        latest: dict[str, dict[str, Sample]] = {"link": {}, "node": {}, "service": {}}
        alarms: list[Sample] = []
        with self._lock:
            for (kind, _name), series in self._series.items():
                name = series.resource
                if kind == "commit":
                    continue
                last = series.at(t)
                if last is None:
                    continue
                if kind in latest:
                    latest[kind][name] = last
                elif last.event != "cleared":
                    alarms.append(last)
        alarms.sort(key=lambda s: (s.resource, str(s.values.get("alarm-type-id", ""))))
        return Snapshot(t, latest["link"], latest["node"], latest["service"], alarms)
