"""The controller's SQLite files open in WAL mode, in a folder made for them."""

from __future__ import annotations

from pathlib import Path

from controller.datastore.walfile import open_wal


def test_a_file_in_a_new_folder_opens_in_wal_mode(tmp_path: Path) -> None:
    db = open_wal(tmp_path / "new" / "x.sqlite", synchronous="NORMAL")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1      # NORMAL
        assert db.isolation_level is None                               # autocommit
    finally:
        db.close()
    default = open_wal(tmp_path / "new" / "y.sqlite")
    try:
        assert default.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL, SQLite's
    finally:
        default.close()
