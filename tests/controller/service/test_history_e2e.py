"""The history over every northbound: the emulated metro network under a real service
layer, a fibre cut, then get-history / get-snapshot over NETCONF (ncclient over SSH),
RESTCONF (httpx) and gRPC (the generated stub)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from lxml import etree
from ncclient import manager as nc_manager

from controller.app.history_rpcs import netconf_history_rpcs, restconf_history_rpcs
from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.netconf.nacm import seed_nacm
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.service.alarms import link_resource
from controller.service.history_api import HistoryApi
from controller.service.history_recorder import HistoryRecorder
from controller.service.history_store import HistoryStore, iso
from controller.settings import GrpcToken
from tests.controller.netconf.conftest import AUTH, LIMITS
from tests.controller.service.conftest import cut_fibre, metro_world, started

HIST = "urn:sdqn:sdqn-history"
LINK = "r1-r2"
NODE = "r1"        # a repeater at one end of the cut fibre: its device reports its status
CUT = link_resource("metro", LINK)
FIBRE_CUT = "sdqn-alarms:fibre-cut"
#: "nobody" may not read the topology: no link or node samples for it (RFC 8341 §3.4.5)
BLIND = {"ietf-netconf-acm:nacm": {
    "groups": {"group": [{"name": "blind", "user-name": ["nobody"]}]},
    "rule-list": [{"name": "blind", "group": ["blind"], "rule": [
        {"name": "no-topology", "module-name": "ietf-network", "path": "/nw:networks",
         "access-operations": "read", "action": "deny"}]}]}}


@dataclass
class Served:
    netconf: NetconfServer
    restconf: RestconfServer
    grpc: GrpcServer
    before: float      # an instant before the cut, after the first samples
    after: float       # an instant after the cut was recorded


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("history")
    with metro_world(extra_modules=RESTCONF_MODULES) as world:
        store, manager, _net, _clock = started(world)
        seed_nacm(store, CONFIG_DIR / "nacm.json")
        blind = json.loads(json.dumps(BLIND).replace("/nw:networks", "/ietf-network:networks"))
        store.edit_json(Datastore.RUNNING, blind)
        commits = RunningHistory(store, CommitLog(None))
        samples = HistoryStore()
        recorder = HistoryRecorder(store, samples, commits=lambda: commits.log.recent(100))
        recorder.record_once()
        manager.telemetry.poll_once()
        recorder.record_once()
        time.sleep(0.05)
        before = time.time()
        time.sleep(0.05)
        cut_fibre(world, LINK)
        manager.telemetry.poll_once()
        recorder.record_once()
        time.sleep(0.05)
        after = time.time()
        netconf = NetconfServer(store, users=AUTH, host_key=tmp / "host_key", limits=LIMITS,
                                name="history-test")
        api = HistoryApi(samples, store.schema, netconf.core.access)
        netconf.core.extra_rpcs.update(netconf_history_rpcs(api))
        netconf.start()
        access = DataAccess(store, users=AUTH, core=netconf.core)
        hub = EventHub(store, poll_s=0.05)
        restconf = RestconfServer(access, hub=hub, extra_rpcs=restconf_history_rpcs(api))
        restconf.start()
        service = ControllerService(access, hub=hub, auth=TokenAuth(
            [GrpcToken(user=u, token=f"{u}-token") for u in ("admin", "nobody")]),
            history=commits, history_api=api)
        grpc_server = GrpcServer(service)
        grpc_server.start()
        try:
            yield Served(netconf, restconf, grpc_server, before, after)
        finally:
            grpc_server.stop(grace=0.1)
            restconf.stop()
            hub.stop()
            access.close()
            netconf.stop()
            commits.close()


# -- NETCONF ------------------------------------------------------------------------------

def nc_call(served: Served, body: str, user: str = "admin") -> etree._Element:
    with nc_manager.connect(host="127.0.0.1", port=served.netconf.port, username=user,
                            password=user, hostkey_verify=False, allow_agent=False,
                            look_for_keys=False, timeout=30) as m:
        reply = m.dispatch(etree.fromstring(body))
        return etree.fromstring(reply.xml.encode())


def _values(el: etree._Element) -> dict[str, str]:
    return {etree.QName(c).localname: (c.text or "") for c in el}


def test_netconf_history_holds_the_link_before_and_after_and_the_raise(
        served: Served) -> None:
    reply = nc_call(served, f'<get-history xmlns="{HIST}"><kind>link</kind>'
                            f'<resource>{LINK}</resource></get-history>')
    samples = [_values(s) for s in reply.iter(f"{{{HIST}}}sample")]
    states = [s.get("oper-status") for s in samples]
    assert "sdqn-types:up" in states and states[-1] == "sdqn-types:down", samples
    assert all(s["kind"] == "link" and s["resource"] == LINK for s in samples)
    assert all("measured-at" in s for s in samples)
    reply = nc_call(served, f'<get-history xmlns="{HIST}"><kind>alarm</kind></get-history>')
    events = [_values(s) for s in reply.iter(f"{{{HIST}}}sample")]
    assert any(e["resource"] == CUT and e["alarm-type-id"] == FIBRE_CUT
               and e["event"] == "raised" for e in events), events


def test_netconf_snapshot_before_and_after_the_cut(served: Served) -> None:
    def snapshot(t: float) -> etree._Element:
        return nc_call(served, f'<get-snapshot xmlns="{HIST}"><time>{iso(t)}</time>'
                               f'</get-snapshot>')

    before = snapshot(served.before)
    links = {_values(link)["link-id"]: _values(link) for link in before.iter(f"{{{HIST}}}link")}
    assert links[LINK]["oper-status"] == "sdqn-types:up"
    nodes = {_values(node)["node-id"]: _values(node) for node in before.iter(f"{{{HIST}}}node")}
    assert _known_node(nodes[NODE]), nodes
    assert not [a for a in before.iter(f"{{{HIST}}}alarm")
                if _values(a)["alarm-type-id"] == FIBRE_CUT]
    after = snapshot(served.after)
    links = {_values(link)["link-id"]: _values(link) for link in after.iter(f"{{{HIST}}}link")}
    assert links[LINK]["oper-status"] == "sdqn-types:down"
    assert [a for a in after.iter(f"{{{HIST}}}alarm")
            if _values(a)["alarm-type-id"] == FIBRE_CUT and _values(a)["resource"] == CUT]


def _known_node(values: dict[str, Any]) -> bool:
    """A node sample as the recorder takes it from sdqn-topology quantum-node state."""
    return (str(values.get("oper-status", "")).startswith("sdqn-types:")
            and values.get("device-kind") == "sdqn-types:repeater"
            and "measured-at" in values and values.get("network-id") == "metro")


def test_netconf_history_of_a_node(served: Served) -> None:
    reply = nc_call(served, f'<get-history xmlns="{HIST}"><kind>node</kind>'
                            f'<resource>{NODE}</resource></get-history>')
    samples = [_values(s) for s in reply.iter(f"{{{HIST}}}sample")]
    assert samples and all(s["kind"] == "node" and s["resource"] == NODE for s in samples)
    assert _known_node(samples[0]), samples


def test_netconf_bad_input_is_invalid_value_naming_the_leaf(served: Served) -> None:
    from ncclient.operations.rpc import RPCError
    with pytest.raises(RPCError) as bad:
        nc_call(served, f'<get-history xmlns="{HIST}"><start>{iso(served.after)}</start>'
                        f'<end>{iso(served.before)}</end></get-history>')
    assert bad.value.tag == "invalid-value" and "start" in str(bad.value.info)
    with pytest.raises(RPCError) as bad:
        nc_call(served, f'<get-snapshot xmlns="{HIST}"><time>2000-01-01T00:00:00Z</time>'
                        f'</get-snapshot>')
    assert bad.value.tag == "invalid-value" and "retained window" in str(bad.value)


# -- RESTCONF -----------------------------------------------------------------------------

def rc_post(served: Served, rpc: str, body: dict[str, Any], user: str = "admin"
            ) -> httpx.Response:
    with httpx.Client(base_url=served.restconf.url, auth=(user, user), timeout=30) as c:
        return c.post(f"/restconf/operations/sdqn-history:{rpc}",
                      json={"sdqn-history:input": body},
                      headers={"Accept": "application/yang-data+json",
                               "Content-Type": "application/yang-data+json"})


def test_restconf_history_and_snapshot(served: Served) -> None:
    got = rc_post(served, "get-history", {"kind": ["link", "alarm"]})
    assert got.status_code == 200, got.text
    samples = got.json()["sdqn-history:output"]["sample"]
    assert {s["kind"] for s in samples} == {"link", "alarm"}
    assert any(s["resource"] == CUT and s.get("event") == "raised" for s in samples)
    snap = rc_post(served, "get-snapshot", {"time": iso(served.before)})
    assert snap.status_code == 200, snap.text
    out = snap.json()["sdqn-history:output"]
    link = next(x for x in out["link"] if x["link-id"] == LINK)
    assert link["oper-status"] == "sdqn-types:up"
    node = next(x for x in out["node"] if x["node-id"] == NODE)
    assert _known_node(node) and "sampled" in node, node
    assert not [a for a in out.get("alarm", []) if a["alarm-type-id"] == FIBRE_CUT]


def test_restconf_bad_input_and_nacm(served: Served) -> None:
    bad = rc_post(served, "get-history", {"kind": ["fibre"]})
    assert bad.status_code == 400
    error = bad.json()["ietf-restconf:errors"]["error"][0]
    assert error["error-tag"] == "invalid-value" and "kind" in json.dumps(error)
    bad = rc_post(served, "get-history", {"start": iso(served.after), "end": iso(served.before)})
    assert bad.status_code == 400 and "start" in bad.text
    blind = rc_post(served, "get-history", {}, user="nobody")
    assert blind.status_code == 200, blind.text
    kinds = {s["kind"] for s in blind.json()["sdqn-history:output"].get("sample", [])}
    assert "link" not in kinds and "node" not in kinds and "service" in kinds
    blind = rc_post(served, "get-snapshot", {"time": iso(served.after)}, user="nobody")
    assert blind.status_code == 200, blind.text
    out = blind.json()["sdqn-history:output"]
    assert not out.get("node") and not out.get("link") and out.get("service")


# -- gRPC ---------------------------------------------------------------------------------

def values(sample: Any) -> dict[str, str]:
    return {v.name: v.value for v in sample.values}


def test_grpc_history_snapshot_and_errors(served: Served) -> None:
    pb, stubs = load()
    with grpc.insecure_channel(served.grpc.target) as channel:
        stub = stubs.ControllerServiceStub(channel)
        meta = (("authorization", "Bearer admin-token"),)
        history = stub.GetHistory(pb.GetHistoryRequest(kinds=["link"], resource=LINK),
                                  metadata=meta, timeout=30)
        states = [values(s)["oper-status"] for s in history.samples]
        assert "sdqn-types:up" in states and states[-1] == "sdqn-types:down"
        after = stub.GetSnapshot(pb.GetSnapshotRequest(time=iso(served.after)),
                                 metadata=meta, timeout=30)
        assert any(a.resource == CUT and values(a)["alarm-type-id"] == FIBRE_CUT
                   for a in after.alarms)
        assert {x.resource: values(x).get("oper-status") for x in after.links}[LINK] \
            == "sdqn-types:down"
        nodes = {x.resource: x for x in after.nodes}
        assert nodes[NODE].kind == "node" and _known_node(values(nodes[NODE]))
        with pytest.raises(grpc.RpcError) as bad:
            stub.GetSnapshot(pb.GetSnapshotRequest(time="2000-01-01T00:00:00Z"),
                             metadata=meta, timeout=30)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "retained window" in (bad.value.details() or "")
        blind = stub.GetSnapshot(pb.GetSnapshotRequest(time=iso(served.after)),
                                 metadata=(("authorization", "Bearer nobody-token"),),
                                 timeout=30)
        assert not blind.links and not blind.nodes and blind.services
