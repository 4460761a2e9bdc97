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
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.datastore.sessions import ChangeNote
from controller.errors import ErrorTag, NetconfError
from tests.controller.datastore.conftest import NS, cfg, reopen


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


# -- diffs, not documents: kept in the datastores' file, across restarts, trimmed -----------

def device(name: str, address: str) -> str:
    return cfg(f"<device {NS}><name>{name}</name><address>{address}</address></device>")


def make_changes(store: NmdaStore, history: RunningHistory, count: int
                 ) -> list[tuple[str, str, str]]:
    """`count` changes of running (devices added, a leaf changed, one removed): each
    record's id with running printed right before and after it."""
    made = []
    for k in range(count):
        before = store.get(Datastore.RUNNING)
        with history.recording():
            if k % 3 == 2:
                store.edit_xml(Datastore.RUNNING, cfg(
                    f'<device {NS} nc:operation="remove"><name>d{k - 2}</name></device>'))
            elif k % 3 == 1:
                store.edit_xml(Datastore.RUNNING, cfg(
                    f"<system {NS}><hostname>h{k}</hostname></system>"))
            else:
                store.edit_xml(Datastore.RUNNING, device(f"d{k}", f"10.0.0.{k}"))
            record = history.last
        assert record is not None
        made.append((record.commit_id, before, store.get(Datastore.RUNNING)))
    return made


def test_history_survives_a_restart(schema: Schema, store: NmdaStore, db_path: Path) -> None:
    history = RunningHistory(store)
    with store.sessions.noted(ChangeNote("commit", "first", "kept")):
        made = make_changes(store, history, 9)
    history.close()
    store.close()
    again = reopen(schema, db_path)
    try:
        reopened = RunningHistory(again)
        records = reopened.log.recent(20)
        assert [r.commit_id for r in records] == [m[0] for m in reversed(made)]
        assert {(r.kind, r.label, r.comment) for r in records} == {("commit", "first", "kept")}
        for commit_id, before, after in made:
            record = reopened.log.require(commit_id)
            assert (record.before, record.after) == (before, after)
        # recording goes on after the restart, in the same sequence
        with reopened.recording():
            again.edit_xml(Datastore.RUNNING, device("late", "10.0.1.1"))
            late = reopened.last
        assert late is not None and late.seq == records[0].seq + 1
        assert late.after == reopened.running()
        reopened.close()
    finally:
        again.close()


def test_the_newest_keep_records_are_kept(schema: Schema, tmp_path: Path) -> None:
    stored = NmdaStore(schema, persistence=Persistence(tmp_path / "k.sqlite", keep=4))
    in_memory = NmdaStore(schema)
    for store, history in ((stored, RunningHistory(stored)),
                           (in_memory, RunningHistory(in_memory, CommitLog(keep=4)))):
        made = make_changes(store, history, 7)
        kept = history.log.recent(100)
        assert [r.commit_id for r in kept] == [m[0] for m in reversed(made[-4:])]
        for commit_id, before, after in made[-4:]:
            assert (history.log.require(commit_id).before,
                    history.log.require(commit_id).after) == (before, after)
        for commit_id, _, _ in made[:-4]:
            with pytest.raises(NetconfError, match="no commit"):
                history.log.require(commit_id)
        history.close()
    stored.close()


def test_a_record_dropped_meanwhile_is_missing(store: NmdaStore) -> None:
    history = RunningHistory(store)
    oldest = make_changes(store, history, 1)[0][0]
    record = history.log.require(oldest)
    assert store.persistence is not None
    store.persistence.keep = 1
    store.edit_xml(Datastore.RUNNING, device("b", "10.0.0.2"))   # drops the oldest
    with pytest.raises(NetconfError, match=f"no commit '{oldest}'"):
        _ = record.before
    history.close()


def test_a_one_leaf_change_is_one_transaction(store: NmdaStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The history row is written in the change's own durable transaction: one BEGIN and
    one COMMIT (one fsync) for the journal, the meta keys and the history together."""
    history = RunningHistory(store)
    store.edit_xml(Datastore.RUNNING, device("a", "10.0.0.1"))
    assert store.persistence is not None
    statements: list[str] = []
    appends: list[object] = []
    original = Persistence.append

    def counted(self: Persistence, *args: object, **kwargs: object) -> int:
        appends.append(kwargs.get("history"))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Persistence, "append", counted)
    store.persistence._db.set_trace_callback(statements.append)
    with history.recording():
        store.edit_xml(Datastore.RUNNING, cfg(
            f"<device {NS}><name>a</name><address>10.0.0.2</address></device>"))
        record = history.last
    store.persistence._db.set_trace_callback(None)
    assert record is not None and len(appends) == 1 and appends[0] is not None
    writes = [s.split()[0].upper() for s in statements
              if s.split()[0].upper() in ("BEGIN", "COMMIT", "INSERT", "DELETE")]
    # running's and intended's journal entries, the history row, its trim: one commit
    assert writes == ["BEGIN", "INSERT", "INSERT", "INSERT", "DELETE", "COMMIT"]
    assert [s.split()[2] for s in statements if s.upper().startswith("INSERT")] == [
        "journal", "journal", "history"]
    row = history.log.since(record.seq)[0]
    assert row.forward == (("set", "/sdqn-test:device[name='a']/address", "10.0.0.2"),)
    assert row.inverse == (("set", "/sdqn-test:device[name='a']/address", "10.0.0.1"),)
    history.close()


class FailsToConfirm:
    """A participant (a device) that cannot confirm after the durable write."""

    def prepare(self, _txn: object, _expanded: object) -> str:
        return "token"

    def confirm(self, _prepared: object) -> None:
        raise NetconfError.of(ErrorTag.OPERATION_FAILED, "device d9 did not confirm")

    def abort(self, _prepared: object) -> None:
        pass

    def compensate(self, _prepared: object) -> None:
        pass


def test_a_change_undone_after_its_confirm_failed_is_not_in_the_history(
        schema: Schema, store: NmdaStore, db_path: Path) -> None:
    history = RunningHistory(store)
    kept = make_changes(store, history, 2)
    store.participants.append(FailsToConfirm())
    with history.recording(), pytest.raises(NetconfError, match="d9"):
        store.edit_xml(Datastore.RUNNING, device("gone", "10.0.9.9"))
    assert history.last is None
    assert [r.commit_id for r in history.log.recent(5)] == [k[0] for k in reversed(kept)]
    assert history.log.recent(1)[0].after == history.running() == kept[-1][2]
    store.participants.clear()
    history.close()
    store.close()
    again = reopen(schema, db_path)      # the disk agrees
    try:
        reopened = RunningHistory(again)
        assert [r.commit_id for r in reopened.log.recent(5)] == [k[0] for k in reversed(kept)]
        assert reopened.log.recent(1)[0].after == reopened.running()
        reopened.close()
    finally:
        again.close()


def test_an_unreadable_older_history_is_set_aside(store: NmdaStore, tmp_path: Path) -> None:
    path = tmp_path / "running-history.sqlite"
    path.write_bytes(b"not a database, not even close" * 100)
    assert store.persistence is not None
    assert import_old_history(store.persistence, path) == 0
    assert not path.exists() and path.with_name(path.name + ".unreadable").exists()
    history = RunningHistory(store)
    assert history.log.recent(5) == []
    history.close()
