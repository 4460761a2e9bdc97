"""A bench's server or emulator in its own process, stopped however the bench ends.

The figures are taken from a client in another process, so every bench that starts a
daemon needs the same start and the same bounded stop: terminate, wait, then kill.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def process(argv: list[str], log: Path, stdout: int | None = None
            ) -> Iterator[subprocess.Popen[str]]:
    """`argv` running with stderr (and stdout, unless given) to `log`."""
    with log.open("w") as err:
        proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else err,
                                stderr=err, text=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
