"""Files the daemon creates are private: the data directory 0700, every file 0600.

The process umask (0o077, set at daemon start) covers files libraries create (SQLite,
logs, notification replay); these helpers make the modes explicit for secrets and
repair a data directory an older version created world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)  # an existing tmp file kept its old mode
    os.replace(tmp, path)


def private_data_dir(path: Path) -> None:
    """Create the data directory 0700 (and tighten it when it exists and is ours)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
