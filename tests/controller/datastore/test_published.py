"""Readers read the published copies: after any sequence of changes (valid or refused,
on running or candidate, committed, discarded, reverted) every copy prints exactly what
its live datastore prints, defaults included; a reader never sees a change half applied
and never waits for a change in progress."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import (
    CONFIG_DATASTORES,
    Datastore,
    Expanded,
    IdentityExpander,
    NmdaStore,
    Transaction,
)
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.datastore.tree import WithDefaults, parent_path
from controller.errors import NetconfError
from tests.controller.datastore.conftest import NS, cfg, reopen

R, C = Datastore.RUNNING, Datastore.CANDIDATE
NAMES = st.sampled_from(["a", "b", "c", "d"])

_EDITS = st.one_of(
    st.builds(lambda v: f"<system {NS}><hostname>{v}</hostname></system>",
              st.sampled_from(["h1", "h2", "sdqn"])),
    st.builds(lambda v: f'<system {NS}><mtu nc:operation="remove"/>'
                        f"<dns>{v}</dns></system>", NAMES),
    st.builds(lambda v, w: f'<system {NS}><dns yang:insert="first">{v}</dns>'
                           f"<limits><min>{w}</min></limits></system>",
              NAMES, st.integers(0, 9)),
    st.builds(lambda v: f'<system {NS} nc:operation="remove"/>'
                        f"<route {NS}><prefix>{v}</prefix></route>", NAMES),
    st.builds(lambda n, a: f"<device {NS}><name>{n}</name><address>{a}</address>"
                           f"<port><id>1</id></port></device>", NAMES, NAMES),
    st.builds(lambda n: f'<device {NS} nc:operation="remove"><name>{n}</name></device>',
              NAMES),
    st.builds(lambda n, a: f'<route {NS} yang:insert="after" yang:key="[prefix=\'{a}\']">'
                           f"<prefix>{n}</prefix><via>{a}</via></route>", NAMES, NAMES),
    st.builds(lambda n: f'<route {NS} yang:insert="first"><prefix>{n}</prefix></route>',
              NAMES),
    st.builds(lambda n: f"<device {NS}><name>{n}</name><peer>zz</peer></device>", NAMES),
)
_STEPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["running", "candidate"]), _EDITS),
    st.sampled_from([("commit", ""), ("discard", "")])), min_size=1, max_size=14)


def _live(store: NmdaStore, ds: Datastore, mode: WithDefaults) -> str:
    with store.atomic():     # the lock's owner reads the live forest
        return store.get(ds, fmt="xml", with_defaults=mode)


def _published(store: NmdaStore, ds: Datastore, mode: WithDefaults) -> str:
    return store.get(ds, fmt="xml", with_defaults=mode)


def _assert_same(store: NmdaStore) -> None:
    for ds in CONFIG_DATASTORES:
        for mode in (WithDefaults.EXPLICIT, WithDefaults.REPORT_ALL):
            assert _published(store, ds, mode) == _live(store, ds, mode), (ds, mode)
    with store.atomic():
        live = store.get(Datastore.OPERATIONAL, fmt="xml")
    assert store.get(Datastore.OPERATIONAL, fmt="xml") == live


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_published_copies_follow_every_change(schema: Schema,
                                              steps: list[tuple[str, str]]) -> None:
    store = NmdaStore(schema)
    for kind, body in steps:
        try:
            if kind == "commit":
                store.commit()
            elif kind == "discard":
                store.discard_changes()
            else:
                store.edit_xml(Datastore(kind), cfg(body))
        except NetconfError:
            pass   # refused: nothing changed, in the live forests or the copies
        _assert_same(store)


def test_learned_state_is_published(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f"<device {NS}><name>d1</name><address>a</address></device>"))
    store.merge_state('{"sdqn-test:device": [{"name": "d1", "oper-status": "up"}]}')
    _assert_same(store)
    store.replace_state("/sdqn-test:device[name='d1']",
                        '{"sdqn-test:device": [{"name": "d1", "oper-status": "down"}]}')
    _assert_same(store)
    assert "down" in store.get(Datastore.OPERATIONAL)
    assert store.delete_state("/sdqn-test:device[name='d1']")
    _assert_same(store)


@pytest.mark.parametrize("path, parent", [
    ("/sdqn-test:system", None),
    ("/sdqn-test:route[prefix='a/b']/via", "/sdqn-test:route[prefix='a/b']"),
    ('/sdqn-test:system/dns[.="x]/y"]', "/sdqn-test:system"),
])
def test_parent_path_respects_predicates(path: str, parent: str | None) -> None:
    assert parent_path(path) == parent


class _HeldExpander(IdentityExpander):
    """Holds a commit in its expansion phase until released (a long Q-NUM solve)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def expand(self, txn: Transaction, running_ops: Sequence[JournalOp]) -> Expanded:
        expanded = super().expand(txn, running_ops)
        self.entered.set()
        assert self.release.wait(10)
        return expanded


def _hostname(store: NmdaStore) -> str:
    return store.get(R, xpath="/sdqn-test:system/hostname")


def test_readers_do_not_wait_for_a_change_in_progress(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f"<system {NS}><hostname>before</hostname></system>"))
    held = _HeldExpander()
    store.expander = held
    writer = threading.Thread(target=store.edit_xml, args=(R, cfg(
        f"<system {NS}><hostname>after</hostname></system>")))
    writer.start()
    try:
        assert held.entered.wait(10)
        # The change holds the store's lock; reads still answer, with the committed content.
        for _ in range(20):
            assert "before" in _hostname(store)
    finally:
        held.release.set()
        writer.join(10)
    assert "after" in _hostname(store)


def test_a_reader_never_sees_a_change_half_applied(store: NmdaStore) -> None:
    """Each edit sets hostname and mtu to the same number in one change: a read that
    sees them differ saw half of it."""
    seen: list[tuple[str, str]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = store.get(R, fmt="json")
            if "sdqn-test:system" in data:
                system = json.loads(data)["sdqn-test:system"]
                seen.append((system["hostname"], str(system["mtu"])))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 1.5
        value = 100
        while time.monotonic() < deadline:
            value += 1
            store.edit_xml(R, cfg(f"<system {NS}><hostname>{value}</hostname>"
                                  f"<mtu>{value}</mtu></system>"))
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert seen
    assert all(hostname == mtu for hostname, mtu in seen)


def test_a_restart_keeps_user_ordered_positions(store: NmdaStore, schema: Schema,
                                                db_path: Path) -> None:
    """The journal records where an ordered-by-user entry went (RFC 7950 §7.8.6), so
    replaying it (a restart, a copy) puts entries in the same order."""
    for prefix in ("p1", "p2"):
        store.edit_xml(R, cfg(f"<route {NS}><prefix>{prefix}</prefix></route>"))
    store.edit_xml(R, cfg(f'<route {NS} yang:insert="first"><prefix>p0</prefix></route>'))
    store.edit_xml(R, cfg(f'<route {NS} yang:insert="after" yang:key="[prefix=\'p0\']">'
                          f"<prefix>p2</prefix></route>"))
    store.edit_xml(R, cfg(f'<system {NS}><dns>a</dns><dns>b</dns></system>'))
    store.edit_xml(R, cfg(f'<system {NS}><dns yang:insert="first">b</dns></system>'))
    before = store.get(R)
    assert [r["prefix"] for r in json.loads(before)["sdqn-test:route"]] == ["p0", "p2", "p1"]
    store.close()
    again = reopen(schema, db_path)
    try:
        assert again.get(R) == before
        assert [r["prefix"] for r in json.loads(again.get(R))["sdqn-test:route"]] == \
            ["p0", "p2", "p1"]
        assert json.loads(again.get(R))["sdqn-test:system"]["dns"] == ["b", "a"]
    finally:
        again.close()


def test_snapshots_are_written_from_the_published_copy(schema: Schema, db_path: Path) -> None:
    """A snapshot falls due every `snapshot_every` journal entries; the writer stores it
    off the commit path, and a restart from snapshot + journal gives the same content."""
    store = NmdaStore(schema, persistence=Persistence(db_path, snapshot_every=3))
    for i in range(10):
        store.edit_xml(R, cfg(f"<device {NS}><name>d{i}</name><address>a{i}</address>"
                              "</device>"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(db_path) as db:
            row = db.execute("SELECT seq FROM snapshot WHERE ds='running'").fetchone()
        if row is not None and row[0] >= 3:
            break
        time.sleep(0.05)
    assert row is not None and row[0] >= 3
    before = store.get(R)
    store.close()
    again = reopen(schema, db_path)
    try:
        assert again.get(R) == before
    finally:
        again.close()
