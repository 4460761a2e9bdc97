"""The commit history keeps each change of running as journal ops, forward and inverse,
and rebuilds running before and after any record from running now. Random edit
sequences over every construct of the test module (defaults, choice, leafref, must,
unique, ordered-by user lists and leaf-lists, nested lists, whole-datastore copies,
candidate commits) must rebuild exactly what running printed at the time, byte for byte
(the printed RFC 7951 JSON, so list order counts)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.datastore.apply import Changes, replay
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.datastore.tree import UndoLog
from controller.errors import NetconfError
from tests.controller.datastore.conftest import NS, cfg

R = Datastore.RUNNING
NAMES = st.sampled_from(["a", "b", "c", "d/1"])
ADDRESSES = st.sampled_from([f"10.0.0.{i}" for i in range(5)])
WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "sdqn"])
PREFIXES = st.sampled_from(["p1", "p2", "p3", "p4"])
INSERTS = st.sampled_from([None, "first", "last", "before", "after"])
PORTS = st.lists(st.tuples(st.integers(1, 4), st.one_of(st.none(), st.integers(1, 99))),
                 max_size=3, unique_by=lambda p: p[0])

edit = st.one_of(
    st.tuples(st.just("hostname"), WORDS),
    st.tuples(st.just("hostname-remove")),
    st.tuples(st.just("mtu"), st.integers(60, 9100)),
    st.tuples(st.just("dns"), WORDS, INSERTS, WORDS),
    st.tuples(st.just("dns-delete"), WORDS),
    st.tuples(st.just("limits"), st.one_of(st.none(), st.integers(0, 9)),
              st.one_of(st.none(), st.integers(0, 9))),
    st.tuples(st.just("limits-remove")),
    st.tuples(st.just("system-remove")),
    st.tuples(st.just("device"), NAMES, ADDRESSES,
              st.sampled_from([None, "quantum", "classical"]), st.one_of(st.none(), NAMES),
              st.sampled_from([None, "ssh-port", "tls-port"]), PORTS,
              st.sampled_from(["merge", "replace", "create"])),
    st.tuples(st.just("device-remove"), NAMES),
    st.tuples(st.just("port-remove"), NAMES, st.integers(1, 4)),
    st.tuples(st.just("route"), PREFIXES, st.one_of(st.none(), WORDS), INSERTS, PREFIXES),
    st.tuples(st.just("route-remove"), PREFIXES),
)
step = st.one_of(
    edit,
    st.tuples(st.just("candidate"), st.lists(edit, min_size=1, max_size=3)),
    st.tuples(st.just("copy"), st.lists(st.tuples(NAMES, ADDRESSES), max_size=3,
                                        unique_by=lambda d: (d[0], d[1])),
              st.lists(PREFIXES, max_size=3, unique=True)),
)


def quoted(value: str) -> str:
    return f"'{value}'"


def to_xml(op: tuple[Any, ...]) -> str:
    kind = op[0]
    if kind == "hostname":
        return f"<system {NS}><hostname>{op[1]}</hostname></system>"
    if kind == "hostname-remove":
        return f'<system {NS}><hostname nc:operation="remove"/></system>'
    if kind == "mtu":
        return f"<system {NS}><mtu>{op[1]}</mtu></system>"
    if kind == "dns":
        _, value, insert, anchor = op
        attrs = f' yang:insert="{insert}"' if insert else ""
        if insert in ("before", "after"):
            attrs += f' yang:value="{anchor}"'
        return f"<system {NS}><dns{attrs}>{value}</dns></system>"
    if kind == "dns-delete":
        return f'<system {NS}><dns nc:operation="delete">{op[1]}</dns></system>'
    if kind == "limits":
        _, low, high = op
        body = (f"<min>{low}</min>" if low is not None else "") + \
            (f"<max>{high}</max>" if high is not None else "")
        return f"<system {NS}><limits>{body}</limits></system>"
    if kind == "limits-remove":
        return f'<system {NS}><limits nc:operation="remove"/></system>'
    if kind == "system-remove":
        return f'<system {NS} nc:operation="remove"/>'
    if kind == "device":
        _, name, address, transport_kind, peer, transport, ports, operation = op
        body = f"<name>{name}</name><address>{address}</address>"
        if transport_kind:
            body += f'<kind xmlns:t="urn:sdqn:sdqn-test">t:{transport_kind}</kind>'
        if peer:
            body += f"<peer>{peer}</peer>"
        if transport:
            body += f"<{transport}>22</{transport}>"
        for port, speed in ports:
            body += f"<port><id>{port}</id>" + \
                (f"<speed>{speed}</speed>" if speed is not None else "") + "</port>"
        return f'<device {NS} nc:operation="{operation}">{body}</device>'
    if kind == "device-remove":
        return f'<device {NS} nc:operation="remove"><name>{op[1]}</name></device>'
    if kind == "port-remove":
        return (f"<device {NS}><name>{op[1]}</name>"
                f'<port nc:operation="remove"><id>{op[2]}</id></port></device>')
    if kind == "route":
        _, prefix, via, insert, anchor = op
        attrs = f' yang:insert="{insert}"' if insert else ""
        if insert in ("before", "after"):
            attrs += f" yang:key=\"[prefix={quoted(anchor)}]\""
        body = f"<prefix>{prefix}</prefix>" + (f"<via>{via}</via>" if via else "")
        return f"<route {NS}{attrs}>{body}</route>"
    assert kind == "route-remove"
    return f'<route {NS} nc:operation="remove"><prefix>{op[1]}</prefix></route>'


def copy_content(op: tuple[Any, ...]) -> str:
    _, devices, routes = op
    doc: dict[str, Any] = {"sdqn-test:system": {"hostname": "copied"}}
    seen: set[str] = set()
    entries = []
    for name, address in devices:
        if name not in seen and address not in {e["address"] for e in entries}:
            seen.add(name)
            entries.append({"name": name, "address": address})
    if entries:
        doc["sdqn-test:device"] = entries
    if routes:
        doc["sdqn-test:route"] = [{"prefix": p} for p in routes]
    return json.dumps(doc)


def apply_step(store: NmdaStore, op: tuple[Any, ...]) -> None:
    """Make one change of running (raises NetconfError when the datastore refuses it)."""
    if op[0] == "copy":
        store.copy(R, content=copy_content(op))
    elif op[0] == "candidate":
        try:
            for inner in op[1]:
                store.edit_xml(Datastore.CANDIDATE, cfg(to_xml(inner)))
            store.commit()
        except NetconfError:
            store.discard_changes()
            raise
    else:
        store.edit_xml(R, cfg(to_xml(op)))


@pytest.fixture
def stores(schema: Schema) -> Iterator[Any]:
    """A fresh persistent store per call (hypothesis runs many examples per test)."""
    with tempfile.TemporaryDirectory() as tmp:
        opened: list[NmdaStore] = []

        def fresh() -> NmdaStore:
            store = NmdaStore(schema, persistence=Persistence(
                Path(tmp) / f"s{len(opened)}.sqlite", synchronous="OFF", snapshot_every=7))
            opened.append(store)
            return store

        yield fresh
        for store in opened:
            store.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_inverse_ops_rebuild_running_before_each_change(stores: Any,
                                                        steps: list[tuple[Any, ...]]
                                                        ) -> None:
    store: NmdaStore = stores()
    history = RunningHistory(store)
    seen: list[tuple[str, str, str]] = []     # (commit id, running before, running after)
    for op in steps:
        before = store.get(R)
        with history.recording():
            try:
                apply_step(store, op)
            except NetconfError:
                # refused: nothing changed (the live forest's order included), no record
                assert store.forest(R).print("json") == store.get(R) == before
                assert history.last is None
                continue
            record = history.last
        after = store.get(R)
        assert store.forest(R).print("json") == after
        if record is None:
            assert after == before
            continue
        # the inverse ops of the change, replayed onto running after it: running before
        row = history.log.since(record.seq)[0]
        assert row.commit_id == record.commit_id
        undone = store.forest(R).dup()
        undo = UndoLog(undone)
        replay(undone, row.inverse, undo, Changes())
        undo.release()
        assert undone.print("json") == before, (op, row.inverse)
        undone.free()
        seen.append((record.commit_id, before, after))
    # every record, rebuilt from running now through the newer records' inverses
    for commit_id, before, after in seen:
        record = history.log.require(commit_id)
        assert (record.before, record.after) == (before, after), commit_id
    history.close()
