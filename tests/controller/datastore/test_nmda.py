"""NMDA behaviour: candidate, locks, confirmed commit, defaults, origin, diff, hooks, restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from controller.datastore.nmda import (
    ConfirmEvent,
    Datastore,
    Expanded,
    NmdaStore,
    TestOption,
    Transaction,
)
from controller.datastore.schema import Schema
from controller.datastore.tree import WithDefaults
from controller.errors import ErrorTag, NetconfError
from tests.controller.datastore.conftest import NS, cfg, reopen

R, C, S = Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP
INT, OPER = Datastore.INTENDED, Datastore.OPERATIONAL


def names(store: NmdaStore, ds: Datastore) -> list[str]:
    data = json.loads(store.get(ds) or "{}")
    return [d["name"] for d in data.get("sdqn-test:device", [])]


def add(store: NmdaStore, ds: Datastore, name: str, session: int = 0) -> None:
    store.edit_xml(ds, cfg(f'<device {NS}><name>{name}</name><address>{name}-a</address>'
                           f'</device>'), session_id=session)


# -- candidate --------------------------------------------------------------------------

def test_candidate_commit_and_discard(store: NmdaStore) -> None:
    add(store, C, "d1")
    assert names(store, R) == [] and store.candidate_dirty
    store.commit()
    assert names(store, R) == ["d1"] == names(store, INT)
    add(store, C, "d2")
    store.discard_changes()
    assert names(store, C) == ["d1"] and not store.candidate_dirty


def test_unmodified_candidate_follows_running(store: NmdaStore) -> None:
    add(store, R, "d1")
    assert names(store, C) == ["d1"]


def test_commit_of_stale_candidate_makes_running_equal_candidate(store: NmdaStore) -> None:
    add(store, C, "c1")
    add(store, R, "r1")  # running moves under the modified candidate
    store.commit()
    assert names(store, R) == ["c1"] == names(store, C)


def test_invalid_candidate_commit_changes_nothing(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.edit_xml(C, cfg(f'<device {NS}><name>d2</name><address>d1-a</address></device>'),
                   test_option=TestOption.SET)
    with pytest.raises(NetconfError) as info:
        store.commit()
    assert info.value.first.app_tag == "data-not-unique"
    assert names(store, R) == ["d1"] == names(store, INT)
    assert store.candidate_dirty


# -- locks (RFC 6241 §7.5/7.6) --------------------------------------------------------------

def test_lock_contention(store: NmdaStore) -> None:
    store.lock_datastore(R, 1)
    with pytest.raises(NetconfError) as info:
        store.lock_datastore(R, 2)
    assert info.value.first.tag is ErrorTag.LOCK_DENIED
    assert ("session-id", "1") in info.value.first.info
    with pytest.raises(NetconfError) as info:
        add(store, R, "x", session=2)
    assert info.value.first.tag is ErrorTag.IN_USE
    add(store, R, "mine", session=1)
    with pytest.raises(NetconfError):
        store.unlock_datastore(R, 2)
    store.unlock_datastore(R, 1)
    add(store, R, "x", session=2)


def test_session_close_releases_locks(store: NmdaStore) -> None:
    store.lock_datastore(R, 7)
    store.lock_datastore(C, 7)
    store.session_closed(7)
    store.lock_datastore(R, 8)


def test_no_lock_on_modified_candidate(store: NmdaStore) -> None:
    add(store, C, "d1", session=3)
    with pytest.raises(NetconfError) as info:
        store.lock_datastore(C, 4)
    assert info.value.first.tag is ErrorTag.LOCK_DENIED


def test_unlocking_modified_candidate_discards(store: NmdaStore) -> None:
    store.lock_datastore(C, 3)
    add(store, C, "d1", session=3)
    store.unlock_datastore(C, 3)
    assert names(store, C) == [] and not store.candidate_dirty


def test_commit_blocked_by_foreign_lock(store: NmdaStore) -> None:
    store.lock_datastore(R, 1)
    add(store, C, "d1", session=2)
    with pytest.raises(NetconfError) as info:
        store.commit(session_id=2)
    assert info.value.first.tag is ErrorTag.IN_USE


# -- confirmed commit (RFC 6241 §8.4) ---------------------------------------------------------

def test_confirmed_commit_reverts_on_timeout(store: NmdaStore) -> None:
    add(store, R, "base")
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=0.3)
    assert names(store, R) == ["base", "trial"]
    deadline = time.monotonic() + 5
    while store.confirm_pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert names(store, R) == ["base"] == names(store, INT) == names(store, C)


def test_confirming_commit_keeps_changes(store: NmdaStore) -> None:
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=0.3)
    store.commit(session_id=5)
    time.sleep(0.5)
    assert names(store, R) == ["trial"] and not store.confirm_pending


def test_confirmed_commit_follow_up_from_other_session_refused(store: NmdaStore) -> None:
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=30)
    with pytest.raises(NetconfError) as info:
        store.commit(session_id=6)
    assert info.value.first.tag is ErrorTag.IN_USE
    store.session_closed(5)  # RFC 6241 §8.4.1: revert when the session ends
    assert names(store, R) == [] and not store.confirm_pending


def test_persist_survives_session_and_needs_persist_id(store: NmdaStore) -> None:
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=30, persist="tok")
    store.session_closed(5)
    assert names(store, R) == ["trial"] and store.confirm_pending
    with pytest.raises(NetconfError) as info:
        store.commit(session_id=9, persist_id="wrong")
    assert info.value.first.tag is ErrorTag.INVALID_VALUE
    store.cancel_commit(session_id=9, persist_id="tok")
    assert names(store, R) == [] and not store.confirm_pending


def test_cancel_commit_without_pending_fails(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.cancel_commit(session_id=1)
    assert info.value.first.tag is ErrorTag.OPERATION_FAILED


def test_restart_reverts_unconfirmed_commit(schema: Schema, store: NmdaStore,
                                            db_path: Path) -> None:
    add(store, R, "base")
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=60, persist="p")
    assert store.persistence is not None
    store.persistence.close()
    again = reopen(schema, db_path)
    assert names(again, R) == ["base"] == names(again, INT) and not again.confirm_pending


# -- copy/delete, defaults, origin, diff ------------------------------------------------------

def test_copy_and_delete_config(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.copy(S, source=R)
    assert names(store, S) == ["d1"]
    store.copy(R, content=json.dumps({"sdqn-test:device": [{"name": "x", "address": "y"}]}))
    assert names(store, R) == ["x"]
    with pytest.raises(NetconfError):
        store.copy(R, content='{"sdqn-test:device": [{"name": "x"}]}')  # mandatory missing
    assert names(store, R) == ["x"]
    store.delete(S)
    assert names(store, S) == []
    with pytest.raises(NetconfError) as info:
        store.delete(R)
    assert info.value.first.tag is ErrorTag.OPERATION_NOT_SUPPORTED


def test_with_defaults_modes(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f'<system {NS}><hostname>sdqn</hostname></system>'))
    explicit = json.loads(store.get(R, with_defaults=WithDefaults.EXPLICIT))
    trim = json.loads(store.get(R, with_defaults=WithDefaults.TRIM))
    report_all = json.loads(store.get(R, with_defaults=WithDefaults.REPORT_ALL))
    tagged = store.get(R, fmt="xml", with_defaults=WithDefaults.REPORT_ALL_TAGGED)
    assert explicit["sdqn-test:system"] == {"hostname": "sdqn"}       # set explicitly
    assert "hostname" not in trim.get("sdqn-test:system", {})         # equals the default
    assert report_all["sdqn-test:system"]["mtu"] == 1500
    assert 'default="true">1500</mtu>' in tagged


def test_operational_carries_origin(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.merge_state('{"sdqn-test:device": [{"name": "d1", "oper-status": "up"}]}')
    oper = json.loads(store.get(OPER, with_origin=True))
    device = oper["sdqn-test:device"][0]
    assert device["@"]["ietf-origin:origin"] == "ietf-origin:intended"
    assert device["@oper-status"]["ietf-origin:origin"] == "ietf-origin:learned"
    selected = json.loads(store.get(OPER, xpath="/sdqn-test:device[name='d1']/oper-status"))
    assert selected == {"sdqn-test:device": [{"name": "d1", "oper-status": "up"}]}
    assert store.delete_state("/sdqn-test:device[name='d1']/oper-status")
    assert "oper-status" not in json.loads(store.get(OPER))["sdqn-test:device"][0]


def test_diff_between_datastores(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.edit_xml(C, cfg(f'<device {NS}><name>d1</name><address>new</address></device>'
                          f'<device {NS}><name>d2</name><address>b</address></device>'))
    diff = store.diff(C, R)
    assert {"operation": "replace", "path": "/sdqn-test:device[name='d1']/address",
            "value": "new", "previous": "d1-a"} in diff
    assert {"operation": "create", "path": "/sdqn-test:device[name='d2']"} in diff


def test_xpath_errors_are_reported(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.get(R, xpath="/sdqn-test:device[")
    assert info.value.first.tag is ErrorTag.INVALID_VALUE


# -- transactions: hooks, expansion, listeners ------------------------------------------------

class Refuse:
    """A commit pipeline participant that refuses in its prepare phase."""

    def prepare(self, txn: Transaction, _expanded: Expanded) -> None:
        assert Datastore.INTENDED in txn.ops
        raise NetconfError.of(ErrorTag.OPERATION_FAILED, "device refused")

    def confirm(self, _prepared: object) -> None:
        raise AssertionError("never prepared")

    def abort(self, _prepared: object) -> None:
        raise AssertionError("never prepared")


def test_failing_commit_hook_rolls_back_running_and_intended(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.participants.append(Refuse())
    with pytest.raises(NetconfError):
        add(store, R, "d2")
    assert names(store, R) == ["d1"] == names(store, INT) == names(store, C)
    store.participants.clear()
    add(store, R, "d2")
    assert names(store, INT) == ["d1", "d2"]


def test_listeners_see_journal_ops(store: NmdaStore) -> None:
    seen: list[tuple[str, str, int]] = []
    store.listeners.append(lambda ds, ops, sid: seen.extend((ds.value, op[0], sid)
                                                            for op in ops))
    add(store, R, "d1", session=4)
    assert ("running", "replace", 4) in seen and ("intended", "replace", 4) in seen


def test_restart_restores_running_startup_intended(schema: Schema, store: NmdaStore,
                                                   db_path: Path) -> None:
    for i in range(10):  # crosses the snapshot threshold (4) twice
        add(store, R, f"d{i}")
    store.edit_xml(R, cfg(f'<device {NS} nc:operation="delete"><name>d3</name></device>'))
    store.copy(S, source=R)
    assert store.persistence is not None
    store.persistence.close()
    again = reopen(schema, db_path)
    expected = [f"d{i}" for i in range(10) if i != 3]
    assert names(again, R) == expected == names(again, S) == names(again, INT) == names(again, C)


def test_boot_from_startup(schema: Schema, store: NmdaStore, db_path: Path) -> None:
    add(store, R, "saved")
    store.copy(S, source=R)
    add(store, R, "unsaved")
    assert store.persistence is not None
    store.persistence.close()
    again = reopen(schema, db_path, boot_from_startup=True)
    assert names(again, R) == ["saved"] == names(again, INT)


def test_no_lock_on_running_during_foreign_confirmed_commit(store: NmdaStore) -> None:
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=30)
    assert store.confirm_owner == 5
    with pytest.raises(NetconfError) as info:
        store.lock_datastore(R, 6)
    assert info.value.first.tag is ErrorTag.LOCK_DENIED
    store.lock_datastore(R, 5)
    store.unlock_datastore(R, 5)
    store.cancel_commit(session_id=5)


def test_unlock_running_is_unaffected_by_a_foreign_confirmed_commit(store: NmdaStore) -> None:
    store.lock_datastore(R, 6)
    store.lock_datastore(C, 6)
    add(store, C, "trial", session=6)
    store.commit(session_id=6, confirmed=True, confirm_timeout=30, persist="p")
    store.unlock_datastore(R, 6)          # must simply release
    store.unlock_datastore(C, 6)
    assert store.locks.holder(R) is None
    store.lock_datastore(R, 7)            # persist: not bound to session 6
    store.unlock_datastore(R, 7)
    store.cancel_commit(session_id=7, persist_id="p")


def test_report_all_on_datastores_that_are_not_validated(store: NmdaStore) -> None:
    add(store, R, "d1")
    store.edit_xml(C, cfg(f'<system {NS}><hostname>x</hostname></system>'),
                   test_option=TestOption.SET)
    for ds in (C, INT, OPER):
        data = json.loads(store.get(ds, with_defaults=WithDefaults.REPORT_ALL))
        assert data["sdqn-test:system"]["mtu"] == 1500, ds
    assert "mtu" not in json.loads(store.get(C)).get("sdqn-test:system", {})


# -- a confirm that fails after the durable write; a restart revert that waits -----------

class Recording:
    """A participant that does what it is told and remembers the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def prepare(self, txn: Transaction, _expanded: Expanded) -> str:
        self.calls.append("prepare")
        return "token"

    def confirm(self, _prepared: object) -> None:
        self.calls.append("confirm")

    def abort(self, _prepared: object) -> None:
        self.calls.append("abort")

    def compensate(self, _prepared: object) -> None:
        self.calls.append("compensate")


class FailsToConfirm(Recording):
    """A device that stops answering between the durable write and its confirm: it put
    itself back and says which device it was."""

    def confirm(self, _prepared: object) -> None:
        self.calls.append("confirm")
        raise NetconfError.of(ErrorTag.OPERATION_FAILED, "device d9 did not confirm")


def test_failed_confirm_writes_every_datastore_back(schema: Schema, store: NmdaStore,
                                                   db_path: Path) -> None:
    add(store, R, "d1")
    first, failing, last = Recording(), FailsToConfirm(), Recording()
    store.participants.extend([first, failing, last])
    with pytest.raises(NetconfError, match="d9"):
        add(store, R, "d2")
    assert names(store, R) == ["d1"] == names(store, INT) == names(store, C)
    # the one that confirmed before is undone, the one after never confirms
    assert first.calls == ["prepare", "confirm", "compensate"]
    assert last.calls == ["prepare", "abort"]
    # a confirmed commit whose confirm fails leaves no rollback point behind either
    add(store, C, "d3", session=5)
    with pytest.raises(NetconfError, match="d9"):
        store.commit(session_id=5, confirmed=True, confirm_timeout=60, persist="p")
    assert not store.confirm_pending and names(store, R) == ["d1"]
    store.participants.clear()
    assert store.persistence is not None
    store.persistence.close()
    again = reopen(schema, db_path, defer_restart_revert=True)   # the disk agrees
    assert names(again, R) == ["d1"] == names(again, INT) and not again.revert_due


def test_restart_revert_waits_for_the_pipeline_when_deferred(schema: Schema,
                                                           store: NmdaStore,
                                                           db_path: Path) -> None:
    add(store, R, "base")
    add(store, C, "trial", session=5)
    store.commit(session_id=5, confirmed=True, confirm_timeout=60, persist="p")
    store.close()                     # the process stops with the commit pending
    again = reopen(schema, db_path, defer_restart_revert=True)
    assert again.revert_due and names(again, R) == ["base", "trial"] == names(again, INT)
    events: list[ConfirmEvent] = []
    again.confirm_listeners.append(events.append)
    devices = Recording()
    again.participants.append(devices)     # attached after construction, still part of it
    assert again.revert_left_pending()
    assert names(again, R) == ["base"] == names(again, INT) == names(again, C)
    assert devices.calls == ["prepare", "confirm"]
    assert [(e.event, e.session_id) for e in events] == [("timeout", 0)]
    assert not again.revert_due and not again.revert_left_pending()
    assert again.persistence is not None
    again.persistence.close()
    third = reopen(schema, db_path, defer_restart_revert=True)   # reverted for good
    assert names(third, R) == ["base"] and not third.revert_due


def test_confirm_listeners_hear_every_step(store: NmdaStore) -> None:
    events: list[ConfirmEvent] = []
    store.confirm_listeners.append(events.append)
    add(store, C, "a", session=3)
    store.commit(session_id=3, confirmed=True, confirm_timeout=60)
    store.commit(session_id=3, confirmed=True, confirm_timeout=30)
    store.commit(session_id=3)
    add(store, C, "b", session=3)
    store.commit(session_id=3, confirmed=True, confirm_timeout=60)
    store.cancel_commit(session_id=3)
    add(store, C, "c", session=4)
    store.commit(session_id=4, confirmed=True, confirm_timeout=60)
    store.session_closed(4)
    add(store, C, "d", session=6)
    store.commit(session_id=6, confirmed=True, confirm_timeout=0.1)
    deadline = time.monotonic() + 5
    while events[-1].event != "timeout" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(e.event, e.session_id, e.timeout_s) for e in events] == [
        ("start", 3, 60), ("extend", 3, 30), ("complete", 3, None),
        ("start", 3, 60), ("cancel", 3, None),
        ("start", 4, 60), ("cancel", 4, None),
        ("start", 6, 0.1), ("timeout", 6, None)]
    assert names(store, R) == ["a"]
