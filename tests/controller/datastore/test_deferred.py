"""Candidate constraints are checked at validate and commit (RFC 7950 §8.3.3), not at
each edit; running at each edit; delete-config targets startup only (RFC 6241 §7.4); a
node named twice in one edit is refused."""

from __future__ import annotations

import json

import pytest

from controller.datastore.nmda import Datastore, NmdaStore, TestOption
from controller.errors import ErrorTag, NetconfError
from tests.controller.datastore.conftest import NS, cfg

R, C, S = Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP
PEER_FIRST = cfg(f'<device {NS}><name>b</name><address>y</address><peer>a</peer></device>')
PEER = cfg(f'<device {NS}><name>a</name><address>x</address></device>')


def test_a_reference_may_come_before_its_target_in_the_candidate(store: NmdaStore) -> None:
    store.edit_xml(C, PEER_FIRST)
    with pytest.raises(NetconfError) as info:
        store.validate(C)
    assert [(e.tag, e.app_tag, e.path) for e in info.value.errors] == [
        (ErrorTag.DATA_MISSING, "instance-required", "/sdqn-test:device[name='b']/peer")]
    with pytest.raises(NetconfError):
        store.commit()
    assert store.get(R) == "{}"
    store.edit_xml(C, PEER)
    store.validate(C)
    store.commit()
    assert sorted(d["name"] for d in json.loads(store.get(R))["sdqn-test:device"]) == ["a", "b"]


def test_running_is_checked_at_each_edit(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, PEER_FIRST)
    assert info.value.first.app_tag == "instance-required"
    assert store.get(R) == "{}"


def test_test_only_on_the_candidate_validates_the_result(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_xml(C, PEER_FIRST, test_option=TestOption.TEST_ONLY)
    assert info.value.first.app_tag == "instance-required"
    assert store.get(C) == "{}" and not store.candidate_dirty


def test_copy_config_to_the_candidate_defers_constraints_too(store: NmdaStore) -> None:
    content = json.dumps({"sdqn-test:device": [{"name": "b", "address": "y", "peer": "a"}]})
    store.copy(C, content=content)
    with pytest.raises(NetconfError):
        store.validate(C)
    with pytest.raises(NetconfError):
        store.copy(R, content=content)
    with pytest.raises(NetconfError):   # syntax is still checked
        store.copy(C, content='{"sdqn-test:device": [{"name": "b", "colour": "red"}]}')
    assert store.get(R) == "{}"


def test_only_startup_can_be_deleted(store: NmdaStore) -> None:
    store.edit_xml(C, PEER)
    candidate = store.get(C)
    for target in (R, C):
        with pytest.raises(NetconfError) as info:
            store.delete(target)
        assert info.value.first.tag is ErrorTag.OPERATION_NOT_SUPPORTED
        assert ("bad-element", target.value) in info.value.first.info
    assert store.get(C) == candidate and store.candidate_dirty
    store.delete(S)


@pytest.mark.parametrize("body", [
    f'<device {NS}><name>a</name><address>x</address></device>'
    f'<device {NS}><name>a</name><address>y</address></device>',
    f'<system {NS}><hostname>p</hostname><hostname>q</hostname></system>',
    f'<system {NS}><hostname>p</hostname></system><system {NS}><mtu>1500</mtu></system>',
])
def test_a_node_named_twice_in_one_edit_is_refused(store: NmdaStore, body: str) -> None:
    for ds in (R, C):
        with pytest.raises(NetconfError) as info:
            store.edit_xml(ds, cfg(body))
        assert info.value.first.tag is ErrorTag.OPERATION_FAILED
    assert store.get(R) == "{}" == store.get(C) and not store.candidate_dirty


def test_a_repeated_leaf_list_value_merges(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f'<system {NS}><dns>1.1.1.1</dns><dns>1.1.1.1</dns></system>'))
    assert json.loads(store.get(R))["sdqn-test:system"]["dns"] == ["1.1.1.1"]


def test_json_duplicates_are_invalid_values_and_two_creates_data_exists(
        store: NmdaStore) -> None:
    twice = [{"name": "a", "address": "x"}, {"name": "a", "address": "y"}]
    with pytest.raises(NetconfError) as info:
        store.edit_json(R, {"sdqn-test:device": twice})
    assert (info.value.first.tag, info.value.first.path) == (
        ErrorTag.INVALID_VALUE, "/sdqn-test:device[name='a']")
    created = [{**d, "@": {"ietf-netconf:operation": "create"}} for d in twice]
    with pytest.raises(NetconfError) as info:
        store.edit_json(R, {"sdqn-test:device": created})
    assert info.value.first.tag is ErrorTag.DATA_EXISTS
    assert store.get(R) == "{}"
