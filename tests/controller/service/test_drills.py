"""Training drills end to end over NETCONF (ncclient) and RESTCONF (httpx), on a real
emulated network: a hidden fault injected, localised right or wrong, scored, cleared and
revealed by end-drill, kept in /drills/drill; one drill at a time; refused without an
emulator channel. Errors are RFC 6241 Appendix A rpc-errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from controller.app.drills import EmulatorChannel, netconf_drill_rpcs, restconf_drill_rpcs
from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.server import RestconfServer
from controller.service.drills import DrillService, resource_id, time_factor
from controller.settings import PRODUCT_MODULES
from simulators.clock import ScaledClock
from simulators.devices.world import Topology
from simulators.launcher import Network
from tests.controller.netconf.conftest import AUTH, LIMITS, make_store

NS = "urn:sdqn:sdqn-drills"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema([*PRODUCT_MODULES, *RESTCONF_MODULES])


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    net = Network(Topology.load(CONFIG_DIR / "topologies" / "metro.json"),
                  clock=ScaledClock(60.0), use_topology_ports=False, tick=0.2)
    net.start(control=False)
    try:
        yield net
    finally:
        net.stop()


class Controller:
    def __init__(self, store: NmdaStore, drills: DrillService, tmp_path: Path) -> None:
        self.store, self.drills = store, drills
        self.netconf = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key",
                                     limits=LIMITS, name="drills",
                                     extra_rpcs=netconf_drill_rpcs(drills))
        self.netconf.start()
        self.access = DataAccess(store, users=AUTH, core=self.netconf.core)
        self.restconf = RestconfServer(self.access, extra_rpcs=restconf_drill_rpcs(drills))
        self.restconf.start()
        self.nc = manager.connect(host="127.0.0.1", port=self.netconf.port,
                                  username="operator", password="operator",
                                  hostkey_verify=False, look_for_keys=False,
                                  allow_agent=False, timeout=30)

    def rpc(self, name: str, **leaves: str) -> etree._Element:
        body = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>"
                       for k, v in leaves.items())
        reply = self.nc.dispatch(etree.fromstring(f'<{name} xmlns="{NS}">{body}</{name}>'))
        return etree.fromstring(reply.xml.encode())

    def history(self) -> list[etree._Element]:
        reply = self.nc.dispatch(etree.fromstring(
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational</datastore>'
            f'<xpath-filter xmlns:d="{NS}">/d:drills</xpath-filter></get-data>'))
        return list(etree.fromstring(reply.xml.encode()).iter(f"{{{NS}}}drill"))

    def close(self) -> None:
        self.nc.close_session()
        self.restconf.stop()
        self.access.close()
        self.netconf.stop()


@pytest.fixture
def controller(schema: Schema, network: Network, tmp_path: Path) -> Iterator[Controller]:
    store = make_store(schema)
    drills = DrillService(store, EmulatorChannel.in_process(network.topology,
                                                            network.faults), seed=7)
    ctl = Controller(store, drills, tmp_path)
    try:
        yield ctl
    finally:
        drills.close()
        ctl.close()


def _text(root: etree._Element, name: str) -> str:
    found = root.find(f".//{{{NS}}}{name}")
    assert found is not None, etree.tostring(root)
    return found.text or ""


def _error_tag(exc: pytest.ExceptionInfo[RPCError]) -> str:
    return str(exc.value.tag)


def test_drill_right_answer_scores_and_end_reveals_and_clears(
        controller: Controller, network: Network) -> None:
    started = controller.rpc("start-drill", fault_kind="fibre-cut")
    drill_id = _text(started, "drill-id")
    assert started.find(f".//{{{NS}}}fault") is None  # the fault stays hidden
    cut = set(network.world.cut_links)
    assert len(cut) == 1
    link = cut.pop()
    [entry] = controller.history()
    assert entry.findtext(f"{{{NS}}}state") == "active"
    assert entry.find(f"{{{NS}}}fault") is None
    with pytest.raises(RPCError) as second:
        controller.rpc("start-drill")
    assert _error_tag(second) == "in-use"
    answer = controller.rpc(
        "submit-localisation", drill_id=drill_id,
        resource=f"/ietf-network:networks/network[network-id='metro']"
                 f"/ietf-network-topology:link[link-id='{link}']")
    assert _text(answer, "correct") == "true"
    assert float(_text(answer, "time-to-localise")) >= 0
    assert 25 <= int(_text(answer, "score")) <= 100
    with pytest.raises(RPCError) as again:
        controller.rpc("submit-localisation", drill_id=drill_id, resource=link)
    assert _error_tag(again) == "operation-failed"
    ended = controller.rpc("end-drill", drill_id=drill_id)
    assert _text(ended, "kind") == "fibre-cut" and _text(ended, "target") == link
    assert network.world.cut_links == set()
    [entry] = controller.history()
    assert entry.findtext(f"{{{NS}}}state") == "ended"
    assert entry.findtext(f"{{{NS}}}fault/{{{NS}}}target") == link
    assert entry.findtext(f"{{{NS}}}correct") == "true"
    with pytest.raises(RPCError) as over:
        controller.rpc("end-drill", drill_id=drill_id)
    assert _error_tag(over) == "invalid-value"


def test_wrong_answer_is_incorrect_and_history_is_kept(controller: Controller,
                                                       network: Network) -> None:
    ids = []
    for _ in range(2):
        drill_id = _text(controller.rpc("start-drill", fault_kind="crash"), "drill-id")
        crashed = [n for n, d in network.devices.items() if d.crashed]
        assert len(crashed) == 1
        answer = controller.rpc("submit-localisation", drill_id=drill_id,
                                resource="no-such-node")
        assert _text(answer, "correct") == "false" and _text(answer, "score") == "0"
        ended = controller.rpc("end-drill", drill_id=drill_id)
        assert _text(ended, "target") == crashed[0]
        assert not network.devices[crashed[0]].crashed
        ids.append(drill_id)
    history = controller.history()
    assert [d.findtext(f"{{{NS}}}id") for d in history] == ids
    assert all(d.findtext(f"{{{NS}}}correct") == "false" for d in history)


def test_restconf_drill_and_unknown_input(controller: Controller, network: Network) -> None:
    base = f"http://127.0.0.1:{controller.restconf.port}/restconf/operations"
    with httpx.Client(auth=("operator", "operator"), timeout=30,
                      headers={"Content-Type": "application/yang-data+json",
                               "Accept": "application/yang-data+json"}) as http:
        bad = http.post(f"{base}/sdqn-drills:start-drill",
                        json={"sdqn-drills:input": {"colour": "red"}})
        assert bad.status_code == 400, bad.text
        assert controller.drills.drills == type(controller.drills.drills)()  # nothing ran
        started = http.post(f"{base}/sdqn-drills:start-drill",
                            json={"sdqn-drills:input": {"fault-kind": "timing-skew"}})
        assert started.status_code == 200, started.text
        drill_id = started.json()["sdqn-drills:output"]["drill-id"]
        answer = http.post(f"{base}/sdqn-drills:submit-localisation",
                           json={"sdqn-drills:input": {"drill-id": drill_id,
                                                       "resource": "qr1"}})
        assert answer.json()["sdqn-drills:output"]["correct"] is True, answer.text
        ended = http.post(f"{base}/sdqn-drills:end-drill",
                          json={"sdqn-drills:input": {"drill-id": drill_id}})
        assert ended.json()["sdqn-drills:output"]["fault"] == {"kind": "timing-skew",
                                                              "target": "qr1"}


def test_refused_without_an_emulator(schema: Schema, tmp_path: Path) -> None:
    store = make_store(schema)
    ctl = Controller(store, DrillService(store, None), tmp_path)
    try:
        version = store.versions.copy()
        with pytest.raises(RPCError) as refused:
            ctl.rpc("start-drill")
        assert _error_tag(refused) == "operation-not-supported"
        assert "emulat" in str(refused.value.message)
        assert store.versions == version
    finally:
        ctl.close()


def test_scoring_rules() -> None:
    assert resource_id("/ietf-network:networks/network[network-id='metro']"
                       "/node[node-id=\"r1\"]") == "r1"
    assert resource_id(" r1-r2 ") == "r1-r2"
    assert time_factor(10) == 1.0 and time_factor(600) == 0.25 and time_factor(5000) == 0.25
    assert 0.25 < time_factor(300) < 1.0
