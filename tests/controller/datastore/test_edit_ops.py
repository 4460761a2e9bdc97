"""RFC 6241 §7.2 edit-config semantics, one behaviour per test, against a real store."""

from __future__ import annotations

import json

import pytest

from controller.datastore.editnode import Operation
from controller.datastore.nmda import Datastore, ErrorOption, NmdaStore, TestOption
from controller.errors import ErrorTag, NetconfError
from tests.controller.datastore.conftest import NS, cfg

R = Datastore.RUNNING


def running(store: NmdaStore) -> dict[str, object]:
    return json.loads(store.get(R) or "{}")  # type: ignore[no-any-return]


def seed(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(
        f'<system {NS}><hostname>h1</hostname><dns>a</dns><dns>b</dns></system>'
        f'<device {NS}><name>d1</name><address>10.0.0.1</address><ssh-port>22</ssh-port>'
        f'<port><id>1</id><speed>100</speed></port></device>'
        f'<route {NS}><prefix>p1</prefix></route><route {NS}><prefix>p2</prefix></route>'))


def expect_error(store: NmdaStore, body: str, tag: ErrorTag, **kwargs: object) -> NetconfError:
    before = store.get(R)
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, cfg(body), **kwargs)  # type: ignore[arg-type]
    assert info.value.first.tag is tag, info.value.errors
    assert store.get(R) == before, "a failed edit must leave running unchanged"
    return info.value


def test_merge_creates_and_updates(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<system {NS}><hostname>h2</hostname></system>'))
    data = running(store)
    assert data["sdqn-test:system"] == {"hostname": "h2", "dns": ["a", "b"]}


def test_replace_replaces_whole_subtree(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<device {NS} nc:operation="replace"><name>d1</name>'
                          f'<address>10.0.0.9</address></device>'))
    device = running(store)["sdqn-test:device"]
    assert device == [{"name": "d1", "address": "10.0.0.9"}]


def test_create_existing_is_data_exists(store: NmdaStore) -> None:
    seed(store)
    err = expect_error(store, f'<device {NS} nc:operation="create"><name>d1</name>'
                              f'<address>x</address></device>', ErrorTag.DATA_EXISTS)
    assert err.first.path == "/sdqn-test:device[name='d1']"


def test_create_leaf_that_only_has_a_default_succeeds(store: NmdaStore) -> None:
    # RFC 6243 basic-mode explicit: a default is not "existing" data.
    store.edit_xml(R, cfg(f'<system {NS}><mtu nc:operation="create">1400</mtu></system>'))
    assert running(store)["sdqn-test:system"] == {"mtu": 1400}


def test_delete_missing_is_data_missing(store: NmdaStore) -> None:
    seed(store)
    err = expect_error(store, f'<device {NS} nc:operation="delete"><name>zz</name></device>',
                       ErrorTag.DATA_MISSING)
    assert "zz" in (err.first.path or "")


def test_delete_and_remove(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<system {NS}><dns nc:operation="delete">a</dns></system>'))
    store.edit_xml(R, cfg(f'<device {NS} nc:operation="remove"><name>zz</name></device>'))
    store.edit_xml(R, cfg(f'<device {NS}><name>d1</name>'
                          f'<port nc:operation="remove"><id>1</id></port></device>'))
    data = running(store)
    assert data["sdqn-test:system"]["dns"] == ["b"]  # type: ignore[index]
    assert "port" not in data["sdqn-test:device"][0]  # type: ignore[index]


def test_default_operation_replace(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<system {NS}><hostname>only</hostname></system>'),
                   default_operation=Operation.REPLACE)
    assert running(store)["sdqn-test:system"] == {"hostname": "only"}


def test_default_operation_none_only_applies_explicit_operations(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<system {NS}><hostname>ignored</hostname>'
                          f'<dns nc:operation="delete">a</dns></system>'),
                   default_operation=Operation.NONE)
    assert running(store)["sdqn-test:system"] == {"hostname": "h1", "dns": ["b"]}


def test_default_operation_none_delete_under_missing_parent(store: NmdaStore) -> None:
    expect_error(store, f'<system {NS}><dns nc:operation="delete">a</dns></system>',
                 ErrorTag.DATA_MISSING, default_operation=Operation.NONE)


def test_choice_case_switch_deletes_other_case(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<device {NS}><name>d1</name><tls-port>443</tls-port></device>'))
    device = running(store)["sdqn-test:device"][0]  # type: ignore[index]
    assert device["tls-port"] == 443 and "ssh-port" not in device


def test_ordered_by_user_insert(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<route {NS} yang:insert="first"><prefix>p0</prefix></route>'))
    store.edit_xml(R, cfg(f"<route {NS} yang:insert=\"after\" yang:key=\"[prefix='p1']\">"
                          f'<prefix>p15</prefix></route>'))
    store.edit_xml(R, cfg(f'<system {NS}><dns yang:insert="before" yang:value="a">z</dns>'
                          f'</system>'))
    data = running(store)
    assert [r["prefix"] for r in data["sdqn-test:route"]] == ["p0", "p1", "p15", "p2"]  # type: ignore[index]
    assert data["sdqn-test:system"]["dns"] == ["z", "a", "b"]  # type: ignore[index]


def test_move_existing_ordered_entry(store: NmdaStore) -> None:
    seed(store)
    store.edit_xml(R, cfg(f'<route {NS} yang:insert="first"><prefix>p2</prefix></route>'))
    assert [r["prefix"] for r in running(store)["sdqn-test:route"]] == ["p2", "p1"]  # type: ignore[index]


def test_insert_anchor_missing(store: NmdaStore) -> None:
    seed(store)
    err = expect_error(store, f"<route {NS} yang:insert=\"after\" yang:key=\"[prefix='nope']\">"
                              f'<prefix>p9</prefix></route>', ErrorTag.BAD_ATTRIBUTE)
    assert err.first.app_tag == "missing-instance"


def test_insert_on_system_ordered_list_is_bad_attribute(store: NmdaStore) -> None:
    expect_error(store, f'<device {NS} yang:insert="first"><name>x</name>'
                        f'<address>a</address></device>', ErrorTag.BAD_ATTRIBUTE)


def test_unknown_element(store: NmdaStore) -> None:
    err = expect_error(store, f'<system {NS}><colour>red</colour></system>',
                       ErrorTag.UNKNOWN_ELEMENT)
    assert ("bad-element", "colour") in err.first.info


def test_unknown_namespace(store: NmdaStore) -> None:
    err = expect_error(store, '<system xmlns="urn:nowhere"/>', ErrorTag.UNKNOWN_NAMESPACE)
    assert ("bad-namespace", "urn:nowhere") in err.first.info


def test_state_data_cannot_be_edited(store: NmdaStore) -> None:
    expect_error(store, f'<system {NS}><uptime>5</uptime></system>', ErrorTag.UNKNOWN_ELEMENT)


def test_bad_operation_attribute(store: NmdaStore) -> None:
    err = expect_error(store, f'<system {NS} nc:operation="frobnicate"/>',
                       ErrorTag.BAD_ATTRIBUTE)
    assert ("bad-attribute", "operation") in err.first.info


def test_create_inside_delete_is_rejected(store: NmdaStore) -> None:
    seed(store)
    expect_error(store, f'<device {NS} nc:operation="delete"><name>d1</name>'
                        f'<port nc:operation="create"><id>3</id></port></device>',
                 ErrorTag.BAD_ATTRIBUTE)


def test_missing_list_key(store: NmdaStore) -> None:
    err = expect_error(store, f'<device {NS}><address>x</address></device>',
                       ErrorTag.MISSING_ELEMENT)
    assert ("bad-element", "name") in err.first.info


def test_value_out_of_range(store: NmdaStore) -> None:
    err = expect_error(store, f'<system {NS}><mtu>10</mtu></system>', ErrorTag.INVALID_VALUE)
    assert err.first.path == "/sdqn-test:system/mtu"


def test_value_of_wrong_type(store: NmdaStore) -> None:
    expect_error(store, f'<device {NS}><name>d</name><address>a</address>'
                        f'<ssh-port>ssh</ssh-port></device>', ErrorTag.INVALID_VALUE)


def test_identityref_with_xml_prefix(store: NmdaStore) -> None:
    store.edit_xml(R, cfg(f'<device {NS} xmlns:t="urn:sdqn:sdqn-test"><name>d</name>'
                          f'<address>a</address><kind>t:quantum</kind></device>'))
    # RFC 7951 §6.8: libyang prints the namespace-qualified form.
    assert running(store)["sdqn-test:device"][0]["kind"] == "sdqn-test:quantum"  # type: ignore[index]


def test_error_option_rollback_on_error_changes_nothing(store: NmdaStore) -> None:
    seed(store)
    expect_error(store, f'<system {NS}><hostname>new</hostname><mtu>1</mtu></system>',
                 ErrorTag.INVALID_VALUE, error_option=ErrorOption.ROLLBACK_ON_ERROR)


def test_error_option_continue_on_error_applies_the_rest(store: NmdaStore) -> None:
    seed(store)
    result = store.edit_xml(R, cfg(f'<system {NS}><mtu>1</mtu><hostname>new</hostname>'
                                   f'</system>'),
                            error_option=ErrorOption.CONTINUE_ON_ERROR)
    assert [e.tag for e in result.errors] == [ErrorTag.INVALID_VALUE]
    assert running(store)["sdqn-test:system"]["hostname"] == "new"  # type: ignore[index]


def test_test_only_validates_without_applying(store: NmdaStore) -> None:
    seed(store)
    before = store.get(R)
    store.edit_xml(R, cfg(f'<system {NS}><hostname>new</hostname></system>'),
                   test_option=TestOption.TEST_ONLY)
    assert store.get(R) == before
    with pytest.raises(NetconfError):
        store.edit_xml(R, cfg(f'<device {NS}><name>x</name></device>'),
                       test_option=TestOption.TEST_ONLY)


def test_test_option_set_skips_validation_on_candidate_only(store: NmdaStore) -> None:
    store.edit_xml(Datastore.CANDIDATE, cfg(f'<device {NS}><name>x</name></device>'),
                   test_option=TestOption.SET)
    with pytest.raises(NetconfError) as info:
        store.commit()
    assert info.value.first.tag is ErrorTag.DATA_MISSING  # mandatory address
    with pytest.raises(NetconfError):
        store.edit_xml(R, cfg(f'<device {NS}><name>x</name></device>'),
                       test_option=TestOption.SET)


def test_json_edit_with_metadata(store: NmdaStore) -> None:
    seed(store)
    store.edit_json(R, {"sdqn-test:device": [
        {"name": "d2", "address": "10.0.0.2"},
        {"@": {"ietf-netconf:operation": "delete"}, "name": "d1"}]})
    assert [d["name"] for d in running(store)["sdqn-test:device"]] == ["d2"]  # type: ignore[index]


def test_json_edit_breaking_a_leafref_changes_nothing(store: NmdaStore) -> None:
    seed(store)
    before = store.get(R)
    with pytest.raises(NetconfError) as info:
        store.edit_json(R, {"sdqn-test:device": [
            {"name": "d2", "address": "10.0.0.2", "peer": "d1"},
            {"@": {"ietf-netconf:operation": "delete"}, "name": "d1"}]})
    assert info.value.first.tag is ErrorTag.DATA_MISSING
    assert info.value.first.app_tag == "instance-required"
    assert info.value.first.path == "/sdqn-test:device[name='d2']/peer"
    assert store.get(R) == before


def test_json_edit_rejects_unknown_member(store: NmdaStore) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_json(R, {"sdqn-test:system": {"nonsense": 1}})
    assert info.value.first.tag is ErrorTag.UNKNOWN_ELEMENT
    with pytest.raises(NetconfError) as info:
        store.edit_json(R, {"nomodule:system": {}})
    assert info.value.first.tag is ErrorTag.UNKNOWN_NAMESPACE


def test_json_edit_rejects_wrong_shapes(store: NmdaStore) -> None:
    for bad in ({"sdqn-test:device": {"name": "x"}}, {"sdqn-test:system": []},
                {"sdqn-test:system": {"hostname": {"a": 1}}}):
        with pytest.raises(NetconfError) as info:
            store.edit_json(R, bad)
        assert info.value.first.tag is ErrorTag.INVALID_VALUE
    assert store.get(R) == "{}"


@pytest.mark.parametrize("text", [
    "<config><system",                                              # truncated
    '<!DOCTYPE x [<!ENTITY e "boom">]><config>&e;</config>',         # entity
    "<config>" + "<a>" * 300 + "</a>" * 300 + "</config>",           # too deep
    "",
])
def test_malformed_xml_is_malformed_message(store: NmdaStore, text: str) -> None:
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, text)
    assert info.value.first.tag is ErrorTag.MALFORMED_MESSAGE
    assert store.get(R) == "{}"
