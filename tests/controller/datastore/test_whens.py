"""An edit that makes a `when` false is refused, never lets libyang delete the node:
the refusal names the node, every datastore stays byte-identical, and the operator's
explicit delete in the same edit is what makes such a change go through."""

from __future__ import annotations

import json

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import NetconfError
from tests.controller.datastore.conftest import cfg
from tests.controller.datastore.test_constraints import world

R = Datastore.RUNNING
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
TOPO = "urn:sdqn:sdqn-topology"
QRD = 'xmlns="urn:sdqn:sdqn-qroadm"'
NC_OP = 'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'


def _refused(store: NmdaStore, body: str) -> NetconfError:
    before = {ds: store.get(ds) for ds in (R, Datastore.INTENDED, Datastore.CANDIDATE)}
    with pytest.raises(NetconfError) as info:
        store.edit_xml(R, cfg(body))
    assert {ds: store.get(ds) for ds in before} == before
    return info.value


def test_a_kind_change_that_orphans_q_roadm_settings_is_refused() -> None:
    store, _ = world("product").stores()
    error = _refused(store, (
        f'<networks xmlns="{NW}"><network><network-id>metro</network-id><node>'
        f'<node-id>qr1</node-id><quantum-node xmlns="{TOPO}"><device-kind '
        'xmlns:t="urn:sdqn:sdqn-types">t:repeater</device-kind></quantum-node></node>'
        "</network></networks>"))
    first = error.first
    assert "When condition" in first.message and "q-roadm" in first.message
    assert first.path == ("/ietf-network:networks/network[network-id='metro']/"
                          "node[node-id='qr1']/sdqn-topology:quantum-node/q-roadm")


def test_switching_mode_with_a_cross_connect_edit_is_refused_not_deleted() -> None:
    """Before the guard libyang freed the circuit container while the edit still held
    its changed leaf: the process crashed reading freed memory."""
    store, _ = world("sdqn-qroadm").stores()
    error = _refused(store, (
        f"<q-roadm {QRD}><switching-mode>packet</switching-mode><circuit><cross-connect>"
        "<name>c-r1-r3</name><amplifier-bypass>true</amplifier-bypass></cross-connect>"
        "</circuit></q-roadm>"))
    assert "When condition" in error.first.message
    assert error.first.path == "/sdqn-qroadm:q-roadm/circuit"


def test_an_explicit_delete_in_the_same_edit_goes_through() -> None:
    store, _ = world("sdqn-qroadm").stores()
    store.edit_xml(R, cfg(f'<q-roadm {QRD} {NC_OP}><switching-mode>packet</switching-mode>'
                          '<circuit nc:operation="delete"/></q-roadm>'))
    running = json.loads(store.get(R))["sdqn-qroadm:q-roadm"]
    assert running["switching-mode"] == "packet" and "circuit" not in running


def test_a_when_turning_true_still_creates_its_defaults() -> None:
    store, _ = world("sdqn-qroadm").stores()
    store.edit_xml(R, cfg(f'<q-roadm {QRD} {NC_OP}><switching-mode>packet</switching-mode>'
                          '<circuit nc:operation="delete"/></q-roadm>'))
    store.edit_xml(R, cfg(f"<q-roadm {QRD}><switching-mode>circuit</switching-mode>"
                          "</q-roadm>"))
    assert json.loads(store.get(R))["sdqn-qroadm:q-roadm"]["switching-mode"] == "circuit"
