"""The commit log: a history written by an older version (a file of its own, without the
columns added since) is imported and reads, and a change's note (kind, label, comment)
is recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from controller.datastore.commitlog import import_old_history
from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.sessions import ChangeNote
from controller.errors import NetconfError
from tests.controller.datastore.conftest import NS, cfg


def test_an_older_history_is_migrated(store: NmdaStore, tmp_path: Path) -> None:
    path = tmp_path / "running-history.sqlite"
    with sqlite3.connect(path) as db:      # the first layout: no source host, no comment
        db.execute("CREATE TABLE commits (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT "
                   "UNIQUE NOT NULL, label TEXT NOT NULL, user TEXT NOT NULL, ts REAL NOT "
                   "NULL, kind TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL)")
        db.execute("INSERT INTO commits (id, label, user, ts, kind, before, after) VALUES "
                   "('old', 'first', 'admin', 0.0, 'commit', '{}', '{}')")
    assert store.persistence is not None
    assert import_old_history(store.persistence, path) == 1
    assert not path.exists() and path.with_name(path.name + ".migrated").exists()
    assert import_old_history(store.persistence, path) == 0     # once
    history = RunningHistory(store)
    try:
        log = history.log
        old = log.require("old")
        assert (old.label, old.source_host, old.comment, old.time) == (
            "first", "", "", "1970-01-01T00:00:00.000000Z")
        assert (old.before, old.after) == ("{}", "{}")
        with history.recording(), store.sessions.noted(ChangeNote("commit", "l", "why")):
            store.edit_xml(Datastore.RUNNING, cfg(
                f"<device {NS}><name>a</name><address>10.0.0.1</address></device>"))
            new = history.last
        assert new is not None
        assert [r.commit_id for r in log.recent(5)] == [new.commit_id, "old"]
        assert log.require(new.commit_id).comment == "why"
        with pytest.raises(NetconfError, match="no commit 'nope' in the history"):
            log.require("nope")
    finally:
        history.close()


def test_a_change_carries_its_note(store: NmdaStore) -> None:
    history = RunningHistory(store, CommitLog(None))
    try:
        with history.recording(), store.sessions.noted(ChangeNote("commit", "l", "c")):
            store.edit_xml(Datastore.RUNNING, cfg(
                f"<device {NS}><name>a</name><address>10.0.0.1</address></device>"))
            noted = history.last
        store.edit_xml(Datastore.RUNNING, cfg(
            f"<device {NS}><name>b</name><address>10.0.0.2</address></device>"))
        plain = history.last
        assert noted is not None and plain is not None
        assert (noted.kind, noted.label, noted.comment) == ("commit", "l", "c")
        assert (plain.kind, plain.label, plain.comment, plain.user) == ("edit", "", "", "server")
        assert plain.before == noted.after
    finally:
        history.close()


def test_a_note_is_bounded() -> None:
    with pytest.raises(NetconfError, match="label longer than 256"):
        ChangeNote("commit", "x" * 257)
    with pytest.raises(NetconfError, match="comment longer than 4096"):
        ChangeNote("commit", comment="x" * 4097)
