"""Whole-tree validation: RFC 7950 §15 error tags, every error reported, the fast path."""

from __future__ import annotations

import pytest

from controller.datastore.nmda import Datastore, NmdaStore, TestOption
from controller.datastore.schema import Schema
from controller.errors import ErrorTag, NetconfError
from tests.controller.datastore.conftest import NS, cfg

R, C = Datastore.RUNNING, Datastore.CANDIDATE


def test_must_violation_uses_the_modules_error_message(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, cfg(f'<system {NS}><limits><min>5</min><max>1</max></limits>'
                              f'</system>'))
    err = info.value.first
    assert (err.tag, err.app_tag, err.message) == (ErrorTag.OPERATION_FAILED, "must-violation",
                                                   "min must not exceed max")
    assert err.path == "/sdqn-test:system/limits"


def test_unique_violation(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f'<device {NS}><name>a</name><address>x</address></device>'))
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, cfg(f'<device {NS}><name>b</name><address>x</address></device>'))
    assert info.value.first.app_tag == "data-not-unique"


def test_mandatory_missing(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, cfg(f'<device {NS}><name>a</name></device>'))
    assert info.value.first.tag is ErrorTag.DATA_MISSING
    assert "address" in (info.value.first.path or "")


def test_every_independent_error_is_reported(store: NmdaStore) -> None:
    """libyang stops at the first error; the engine keeps going and reports each one."""
    store.edit_xml(C, cfg(
        f'<device {NS}><name>a</name></device>'
        f'<device {NS}><name>b</name><address>y</address><peer>ghost</peer></device>'
        f'<system {NS}><limits><min>9</min><max>1</max></limits></system>'),
        test_option=TestOption.SET)
    with pytest.raises(NetconfError) as info:
        store.validate(C)
    tags = sorted((e.tag.value, e.app_tag or "") for e in info.value.errors)
    assert tags == [("data-missing", ""), ("data-missing", "instance-required"),
                    ("operation-failed", "must-violation")]
    assert store.get(C) != "{}", "validation must not change the candidate"


def test_validate_inline_content(store: NmdaStore) -> None:
    store.validate(content='{"sdqn-test:system": {"hostname": "x"}}')
    with pytest.raises(NetconfError) as info:
        store.validate(content='{"sdqn-test:system": {"mtu": 3}}')
    assert info.value.first.tag is ErrorTag.INVALID_VALUE
    with pytest.raises(NetconfError) as info:
        store.validate(content='{"sdqn-test:system": ')
    assert info.value.first.tag is ErrorTag.MALFORMED_MESSAGE
    with pytest.raises(NetconfError):
        store.validate(content='<system xmlns="urn:sdqn:sdqn-test"><hostname>x</host',
                       fmt="xml")


def test_constraint_analysis_classifies_leaves(schema: Schema) -> None:
    def free(path: str) -> bool:
        return schema.leaf_is_free(next(schema.ctx.find_path(path)).cdata)

    assert free("/sdqn-test:system/hostname")
    assert free("/sdqn-test:device/ssh-port")
    assert not free("/sdqn-test:system/limits/min")      # seen by a must
    assert not free("/sdqn-test:device/address")         # in a unique
    assert not free("/sdqn-test:device/name")            # a key and a leafref target
    assert not free("/sdqn-test:device/peer")            # a leafref


def test_fast_path_still_checks_types_and_constraints(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f'<device {NS}><name>a</name><address>x</address></device>'
                          f'<device {NS}><name>b</name><address>y</address></device>'
                          f'<system {NS}><limits><min>1</min><max>5</max></limits></system>'))
    store.edit_xml(R, cfg(f'<device {NS}><name>a</name><ssh-port>2022</ssh-port></device>'))
    with pytest.raises(NetconfError):  # free leaf, but its type still applies
        store.edit_xml(R, cfg(f'<device {NS}><name>a</name><ssh-port>99999</ssh-port></device>'))
    with pytest.raises(NetconfError):  # constrained leaf: the must is evaluated
        store.edit_xml(R, cfg(f'<system {NS}><limits><min>9</min></limits></system>'))
    with pytest.raises(NetconfError):  # unique leaf changed in place
        store.edit_xml(R, cfg(f'<device {NS}><name>b</name><address>x</address></device>'))


def test_several_features_can_be_enabled_together() -> None:
    schema = Schema(["ietf-netconf"], features={"ietf-netconf": ["candidate",
                                                                 "confirmed-commit"]})
    mod = schema.module("ietf-netconf")
    assert mod.feature_state("candidate") and mod.feature_state("confirmed-commit")
    assert not mod.feature_state("url")
