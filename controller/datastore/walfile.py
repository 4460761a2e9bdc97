"""One way to open the controller's SQLite files (datastores, commit histories, history
samples, commit impacts): the parent folder made, one connection shared by the owner's
threads under its own lock, autocommit (the owner says BEGIN where it needs one), and
WAL journaling, so readers never block the writer and a kill mid-write keeps the file
whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_wal(path: Path, *, synchronous: str | None = None) -> sqlite3.Connection:
    """`synchronous`: SQLite's PRAGMA synchronous (FULL, NORMAL ...); None keeps the
    default."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    if synchronous is not None:
        db.execute(f"PRAGMA synchronous={synchronous}")
    return db
