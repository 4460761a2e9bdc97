"""What every bench that measures a server needs: clients in their own process, the
server's CPU over exactly the window they measured, and percentiles."""

from __future__ import annotations

import functools
import multiprocessing
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


def run_clients(target: Callable[..., None], *args: Any) -> list[float]:
    """Latencies measured by `target(*args, send)` in a separate process: a real client
    is another process, and sharing our GIL would measure the client."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, send))
    proc.start()
    samples: list[float] = receive.recv()
    proc.join()
    return samples


def percentile_ms(samples: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of latencies in seconds, in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def own_cpu_seconds() -> float:
    """User + system CPU of this process (every thread): the server under test when it
    runs here and its clients run in another process."""
    times = os.times()
    return times.user + times.system


@dataclass(frozen=True)
class Measured:
    """One measured row: per-operation latencies, the window's length, and the CPU the
    server spent in that window (connection set-up and teardown excluded)."""

    samples: list[float]
    seconds: float
    server_cpu_s: float

    @property
    def ops(self) -> int:
        return len(self.samples)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_op(self) -> float:
        return self.server_cpu_s / self.ops * 1000 if self.ops else float("nan")

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples) * 1000 if self.samples else float("nan")

    @property
    def p99_ms(self) -> float:
        return percentile_ms(self.samples, 0.99) if self.samples else float("nan")


def measure(target: Callable[..., None], args: Sequence[Any],
            cpu: Callable[[], float] = own_cpu_seconds, processes: int = 1) -> Measured:
    """Run `target(*args, conn)` in `processes` client processes (see `client_window` for
    their side; each gets its own share of the sessions) and read the server's CPU
    (`cpu()`) right when they all start and when the last one stops. Several processes
    keep one client's interpreter lock from being what limits many sessions."""
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for _ in range(processes):
        here, there = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=target, args=(*args, there))
        proc.start()
        pipes.append(here)
        procs.append(proc)
    try:
        for here in pipes:
            message = here.recv()
            if message != "ready":
                raise RuntimeError(f"bench client failed before measuring: {message}")
        before = cpu()
        for here in pipes:
            here.send("go")
        results = [here.recv() for here in pipes]
        after = cpu()
    finally:
        for proc in procs:
            proc.join(60)
            if proc.is_alive():
                proc.kill()
    samples: list[float] = []
    seconds = 0.0
    for result in results:
        if isinstance(result, str):
            raise RuntimeError(f"bench client failed: {result}")
        samples.extend(result[0])
        seconds = max(seconds, result[1])
    return Measured(samples=samples, seconds=seconds, server_cpu_s=after - before)


def run_together(operations: Sequence[Callable[[int], None]], seconds: float
                 ) -> tuple[list[float], float, list[str]]:
    """One thread per operation, all started together, each repeating its operation (with
    the repetition number) for `seconds`: (every latency, the elapsed time, failures)."""
    latencies: list[list[float]] = [[] for _ in operations]
    failures: list[str] = []
    start = threading.Barrier(len(operations) + 1)
    deadline = [0.0]

    def loop(index: int) -> None:
        start.wait()
        i = 1
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                operations[index](i)
            except Exception as exc:  # reported to the caller
                failures.append(repr(exc))
                return
            latencies[index].append(time.perf_counter() - began)
            i += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(operations))]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return [s for samples in latencies for s in samples], time.perf_counter() - began, failures


def client_window(operations: Sequence[Callable[[int], None]], seconds: float,
                  conn: Connection) -> None:
    """The client side of `measure`: `run_together` once the parent says go, then the
    latencies (or the first failure) back to it."""
    conn.send("ready")
    if conn.recv() != "go":
        return
    samples, elapsed, failures = run_together(operations, seconds)
    conn.send(failures[0] if failures else (samples, elapsed))


def session_window(open_session: Callable[[], S], operation: Callable[[S, int], None],
                   sessions: int, seconds: float, conn: Connection) -> None:
    """A client process's body: `sessions` sessions, each warmed up by one operation,
    then `client_window`; a failure to connect is the row's error; all closed at the
    end (`S` has a close())."""
    opened: list[S] = []
    try:
        for _ in range(sessions):
            opened.append(open_session())
        operations = [functools.partial(operation, session) for session in opened]
        for warm_up in operations:
            warm_up(0)
        client_window(operations, seconds, conn)
    except Exception as exc:  # the parent raises it with the row's name
        conn.send(repr(exc))
    finally:
        for session in opened:
            session.close()


__all__ = ["Connection", "Measured", "client_window", "measure", "own_cpu_seconds",
           "percentile_ms", "run_clients", "run_together", "session_window"]
