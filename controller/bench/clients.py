"""What every bench that measures a server needs: clients in their own process, and
percentiles of what they measured."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


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


__all__ = ["Connection", "percentile_ms", "run_clients"]
