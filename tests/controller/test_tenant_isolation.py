"""Tenant isolation over every interface: tenants A (user ta, slice-a, qkd-alice-bob) and
B (user tb, slice-b, dqc-charlie-dave) and an operator, on real NETCONF over SSH
(ncclient), RESTCONF (httpx, its SSE event stream), gRPC and the `sdqn` client. A tenant
sees its own data and never the other's, which is absent exactly as a request that does
not exist (RFC 8341 §3.4.5); its writes to the other's request or slice are refused and
change no datastore; its writes to its own request work. The operator sees both."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("grpc_reflection")

import grpc
import httpx
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError
from typer.testing import CliRunner

from controller.cli import app
from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.netconf.server import NetconfServer
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.settings import PRODUCT_MODULES, AuthSettings, GrpcToken, NetconfUser
from tests.controller.netconf.conftest import LIMITS, NC, SVC, make_store
from tests.controller.netconf.test_tenant_scope import A_REQUEST, B_REQUEST, add_tenants

USERS = ("admin", "operator", "ta", "tb")
AUTH = AuthSettings(users=[NetconfUser(name=u, password=u) for u in USERS],
                    recovery_users=["admin"])
SLICES = "urn:sdqn:sdqn-slices"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
COLLECTION = "/restconf/data/sdqn-services:entanglement-services"
RESOURCE = COLLECTION + "/request={}"
JSON_TYPE = {"Content-Type": "application/yang-data+json"}
STREAM = "/restconf/streams/NETCONF/json"
MISSING = "no-such-request"
NOTIF_WAIT_S = 5.0


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema([*PRODUCT_MODULES, *RESTCONF_MODULES])


@pytest.fixture
def store(schema: Schema) -> NmdaStore:
    st = make_store(schema)
    add_tenants(st)
    return st


class Interfaces:
    """The store behind NETCONF, RESTCONF and gRPC, sharing one NACM."""

    def __init__(self, store: NmdaStore, tmp_path: Path) -> None:
        self.store = store
        self.netconf = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key",
                                     limits=LIMITS, name="tenants")
        self.netconf.start()
        self.access = DataAccess(store, users=AUTH, core=self.netconf.core)
        self.hub = EventHub(store, poll_s=0.02)
        self.restconf = RestconfServer(self.access, hub=self.hub, max_body=64 * 1024,
                                       sse_heartbeat_s=0.2)
        self.restconf.start()
        self.hub.start()
        self.history = RunningHistory(store, CommitLog(None))
        self.service = ControllerService(
            self.access, hub=self.hub, history=self.history, solve_time_limit_s=2.0,
            auth=TokenAuth([GrpcToken(user=u, token=f"{u}-token") for u in USERS]))
        self.grpc = GrpcServer(self.service, max_message_size=64 * 1024, max_workers=8)
        self.grpc.start()
        self.channel = grpc.insecure_channel(self.grpc.target)
        self.pb, self.stubs = load()
        self._managers: dict[str, manager.Manager] = {}
        self._http: dict[str, httpx.Client] = {}

    def close(self) -> None:
        for mgr in self._managers.values():
            with contextlib.suppress(Exception):
                mgr.close_session()
        for client in self._http.values():
            client.close()
        self.channel.close()
        self.grpc.stop(grace=0.1)
        self.history.close()
        self.restconf.stop()
        self.hub.stop()
        self.access.close()
        self.netconf.stop()

    def nc(self, user: str, fresh: bool = False) -> manager.Manager:
        if fresh or user not in self._managers:
            mgr = manager.connect(host="127.0.0.1", port=self.netconf.port, username=user,
                                  password=user, hostkey_verify=False, look_for_keys=False,
                                  allow_agent=False, timeout=30)
            if fresh:
                return mgr
            self._managers[user] = mgr
        return self._managers[user]

    def rc(self, user: str) -> httpx.Client:
        if user not in self._http:
            self._http[user] = httpx.Client(base_url=self.restconf.url, timeout=30,
                                            auth=(user, user))
        return self._http[user]

    def call(self, user: str, method: str, request: Any) -> Any:
        stub = self.stubs.ControllerServiceStub(self.channel)
        return getattr(stub, method)(request, timeout=10,
                                     metadata=(("authorization", f"Bearer {user}-token"),))

    def snapshot(self) -> tuple[str, ...]:
        """Every configuration datastore and its version: a refused write changes none."""
        return (*(self.store.get(ds) for ds in (Datastore.RUNNING, Datastore.CANDIDATE,
                                                Datastore.STARTUP)),
                *(str(self.store.versions[ds]) for ds in (Datastore.RUNNING,
                                                          Datastore.CANDIDATE)))


@pytest.fixture
def net(store: NmdaStore, tmp_path: Path) -> Iterator[Interfaces]:
    interfaces = Interfaces(store, tmp_path)
    yield interfaces
    interfaces.close()


def _names(doc: etree._Element) -> set[str]:
    return {e.text or "" for e in doc.iter(f"{{{SVC}}}name")
            if etree.QName(e.getparent()).localname == "request"}


def _netconf_views(net: Interfaces, user: str) -> list[set[str]]:
    mgr = net.nc(user)
    get_data = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational'
                "</datastore></get-data>")
    return [_names(etree.fromstring(mgr.get().xml.encode())),
            _names(etree.fromstring(mgr.get_config("running").xml.encode())),
            _names(etree.fromstring(mgr.dispatch(etree.fromstring(get_data)).xml.encode()))]


def _restconf_names(net: Interfaces, user: str) -> set[str]:
    response = net.rc(user).get(COLLECTION, headers={"Accept": "application/yang-data+json"})
    assert response.status_code == 200, response.text
    return {r["name"] for r in response.json()["sdqn-services:entanglement-services"].get(
        "request", [])}


def _grpc_names(net: Interfaces, user: str) -> set[str]:
    listed = net.call(user, "ListRequests", net.pb.ListRequestsRequest())
    return {s.request.name for s in listed.requests}


def _cli(net: Interfaces, user: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--target", net.grpc.target],
                                env={"SDQN_TOKEN": f"{user}-token", "COLUMNS": "250"})
    return result.exit_code, result.output


def test_reads_on_every_interface(net: Interfaces) -> None:
    expected = {"ta": {A_REQUEST}, "tb": {B_REQUEST}}
    for user in ("ta", "tb", "operator"):
        views = [*_netconf_views(net, user), _restconf_names(net, user),
                 _grpc_names(net, user)]
        code, out = _cli(net, user, "request", "list", "--json")
        assert code == 0, out
        views.append({r["request"]["name"] for r in json.loads(out)["requests"]})
        for seen in views:
            if user == "operator":
                assert {A_REQUEST, B_REQUEST} <= seen
            else:
                assert seen == expected[user], (user, views)


def test_the_other_tenants_request_is_absent(net: Interfaces) -> None:
    rc = net.rc("ta")
    other, none = rc.get(RESOURCE.format(B_REQUEST)), rc.get(RESOURCE.format(MISSING))
    assert other.status_code == none.status_code == 404
    assert other.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == \
        none.json()["ietf-restconf:errors"]["error"][0]["error-tag"]
    assert rc.get(RESOURCE.format(A_REQUEST)).status_code == 200
    # stream discovery (RFC 8040 §9.2) is everybody's
    assert rc.get("/restconf/data/ietf-restconf-monitoring:restconf-state/streams"
                  ).status_code == 200
    assert net.rc("operator").get(RESOURCE.format(B_REQUEST)).status_code == 200
    slice_b = rc.get("/restconf/data/sdqn-slices:slicing/slice=slice-b")
    assert slice_b.status_code == rc.get("/restconf/data/sdqn-slices:slicing/slice=nope"
                                         ).status_code == 404
    codes = []
    for name in (B_REQUEST, MISSING):
        with pytest.raises(grpc.RpcError) as exc:
            net.call("ta", "GetRequest", net.pb.GetRequestRequest(name=name))
        codes.append(exc.value.code())
    assert codes == [grpc.StatusCode.NOT_FOUND] * 2
    shown = [_cli(net, "ta", "request", "show", name) for name in (B_REQUEST, MISSING)]
    assert shown[0][0] == shown[1][0] == 1
    assert shown[0][1].replace(B_REQUEST, MISSING) == shown[1][1]
    # no /nacm, no commit history, no other tenant's alarm
    mgr = net.nc("ta")
    reply = etree.fromstring(mgr.get().xml.encode())
    assert reply.find(".//{urn:ietf:params:xml:ns:yang:ietf-netconf-acm}nacm") is None
    assert B_REQUEST not in mgr.get().xml and "slice-b" not in mgr.get().xml
    with pytest.raises(grpc.RpcError) as denied:   # the history has every tenant's edits
        net.call("ta", "ListCommits", net.pb.ListCommitsRequest())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert net.call("operator", "ListCommits", net.pb.ListCommitsRequest()) is not None


def _request_xml(name: str, slice_: str | None = None, op: str | None = None,
                 weight: str | None = None) -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    body = f"<name>{name}</name>"
    if slice_ is None and op not in ("delete", "remove"):
        body += "<source-node>alice</source-node><destination-node>bob</destination-node>" \
            if weight is None else ""
    if weight is not None:
        body += f"<weight>{weight}</weight>"
    if slice_ is not None:
        body += ("<source-node>alice</source-node><destination-node>bob</destination-node>"
                 '<application xmlns:t="urn:sdqn:sdqn-types">t:qkd</application>'
                 "<min-fidelity>0.8</min-fidelity><demanded-rate>10.0</demanded-rate>"
                 f'<slice xmlns="{SLICES}">{slice_}</slice>')
    return (f'<config xmlns="{NC}"><entanglement-services xmlns="{SVC}">'
            f"<request{attr}>{body}</request></entanglement-services></config>")


def _netconf_error(net: Interfaces, config: str) -> tuple[str, str]:
    with pytest.raises(RPCError) as exc:
        net.nc("ta").edit_config(target="running", config=config)
    return str(exc.value.tag), str(exc.value.message)


def test_writes_outside_the_tenant_are_refused_everywhere(net: Interfaces) -> None:
    # RFC 6241 §7.2 remove of an absent node: ignored (the store counts the edit either way)
    for name in (B_REQUEST, MISSING):
        versions = net.store.versions[Datastore.RUNNING]
        net.nc("ta").edit_config(target="running", config=_request_xml(name, op="remove"))
        assert net.store.versions[Datastore.RUNNING] == versions + 1
    assert B_REQUEST in _grpc_names(net, "operator")
    before = net.snapshot()
    # NETCONF: a create in B's slice; B's request edited or deleted, as if absent
    assert _netconf_error(net, _request_xml("new-a", "slice-b"))[0] == "access-denied"
    assert _netconf_error(net, _request_xml(B_REQUEST, weight="9.0")) == tuple(
        t.replace(MISSING, B_REQUEST) for t in _netconf_error(
            net, _request_xml(MISSING, weight="9.0")))
    assert _netconf_error(net, _request_xml(B_REQUEST, op="delete")) == tuple(
        t.replace(MISSING, B_REQUEST) for t in _netconf_error(
            net, _request_xml(MISSING, op="delete")))
    # RESTCONF
    rc = net.rc("ta")
    entry = {"name": "new-a", "source-node": "alice", "destination-node": "bob",
             "sdqn-slices:slice": "slice-b"}
    created = rc.post(COLLECTION, json={"sdqn-services:request": [entry]}, headers=JSON_TYPE)
    assert created.status_code == 403, created.text

    def answer(response: httpx.Response) -> tuple[int, str]:
        error = response.json()["ietf-restconf:errors"]["error"][0]
        return response.status_code, str(error["error-tag"])

    for method in ("PATCH", "PUT", "DELETE"):
        results = []
        for name in (B_REQUEST, MISSING):
            body = None if method == "DELETE" else {"sdqn-services:request": [
                {"name": name, "weight": "9.0"}]}
            results.append(answer(rc.request(method, RESOURCE.format(name), json=body,
                                              headers=JSON_TYPE)))
        assert results[0] == results[1] and results[0][0] >= 400, (method, results)
    slice_edit = rc.patch("/restconf/data/sdqn-slices:slicing/slice=slice-a", json={
        "sdqn-slices:slice": [{"name": "slice-a", "priority": 9}]}, headers=JSON_TYPE)
    assert slice_edit.status_code == 403
    # gRPC and the CLI on it: modify/withdraw of B's request as of a missing one
    pb = net.pb

    def modify(name: str) -> Any:
        return pb.ModifyRequestRequest(request=pb.EntanglementRequest(name=name, weight=9.0),
                                       target=pb.TARGET_RUNNING)

    def withdraw(name: str) -> Any:
        return pb.WithdrawRequestRequest(name=name, target=pb.TARGET_RUNNING)

    for method, request in (("ModifyRequest", modify), ("WithdrawRequest", withdraw)):
        codes = []
        for name in (B_REQUEST, MISSING):
            with pytest.raises(grpc.RpcError) as exc:
                net.call("ta", method, request(name))
            codes.append(exc.value.code())
        assert codes[0] == codes[1], (method, codes)
    for slice_ in ("slice-b", "no-such-slice"):
        with pytest.raises(grpc.RpcError) as exc:
            net.call("ta", "SubmitRequest", pb.SubmitRequestRequest(
                request=pb.EntanglementRequest(
                    name="new-a", source_node="alice", destination_node="bob",
                    application=pb.APPLICATION_QKD, min_fidelity=0.8, demanded_rate=10.0,
                    slice=slice_), target=pb.TARGET_RUNNING))
        assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    added = _cli(net, "ta", "request", "add", "new-a", "--src", "alice", "--dst", "bob",
                 "--app", "qkd", "--min-fidelity", "0.8", "--rate", "10", "--slice",
                 "slice-b", "--running")
    assert added[0] == 1 and "PERMISSION_DENIED" in added[1], added
    withdrawn = [_cli(net, "ta", "request", "withdraw", n, "--running")
                 for n in (B_REQUEST, MISSING)]
    assert withdrawn[0][0] == withdrawn[1][0] == 1
    assert withdrawn[0][1].replace(B_REQUEST, MISSING) == withdrawn[1][1]
    assert net.snapshot() == before


def test_a_tenant_commit_carrying_other_edits_is_refused(net: Interfaces) -> None:
    admin, ta = net.nc("admin"), net.nc("ta")
    admin.edit_config(target="candidate", config=_request_xml(B_REQUEST, weight="7.0"))
    ta.edit_config(target="candidate", config=_request_xml(A_REQUEST, weight="3.0"))
    running = net.store.get(Datastore.RUNNING)
    with pytest.raises(RPCError) as exc:
        ta.commit()
    assert exc.value.tag == "access-denied" and B_REQUEST not in str(exc.value.message)
    assert net.store.get(Datastore.RUNNING) == running
    candidate = net.store.get(Datastore.CANDIDATE)
    with pytest.raises(RPCError) as exc:      # nor may it throw the admin's edit away
        ta.discard_changes()
    assert exc.value.tag == "access-denied"
    discarded = net.rc("ta").post("/restconf/operations/ietf-netconf:discard-changes")
    assert discarded.status_code == 403, discarded.text
    assert net.store.get(Datastore.CANDIDATE) == candidate
    admin.discard_changes()
    ta.edit_config(target="candidate", config=_request_xml(A_REQUEST, weight="3.0"))
    # a request created in the (shared) candidate is the tenant's at once, not the other's
    ta.edit_config(target="candidate", config=_request_xml("draft-a", "slice-a"))
    views = {t: _names(etree.fromstring(net.nc(t).get_config("candidate").xml.encode()))
             for t in ("ta", "tb")}
    assert views == {"ta": {A_REQUEST, "draft-a"}, "tb": {B_REQUEST}}
    ta.commit()
    assert '"weight":"3.0"' in net.store.get(Datastore.RUNNING)
    assert _grpc_names(net, "ta") == {A_REQUEST, "draft-a"}


def test_own_request_writes_work_everywhere(net: Interfaces) -> None:
    def weight() -> str:
        doc = json.loads(net.store.get(Datastore.RUNNING,
                                       xpath=f"{COLLECTION[14:]}/request[name='{A_REQUEST}']"))
        return str(doc["sdqn-services:entanglement-services"]["request"][0]["weight"])

    net.nc("ta").edit_config(target="running", config=_request_xml(A_REQUEST, weight="2.5"))
    assert weight() == "2.5"
    patched = net.rc("ta").patch(RESOURCE.format(A_REQUEST), json={"sdqn-services:request": [
        {"name": A_REQUEST, "weight": "3.5"}]}, headers=JSON_TYPE)
    assert patched.status_code == 204, patched.text
    assert weight() == "3.5"
    net.call("ta", "ModifyRequest", net.pb.ModifyRequestRequest(
        request=net.pb.EntanglementRequest(name=A_REQUEST, weight=4.5),
        target=net.pb.TARGET_RUNNING))
    assert weight() == "4.5"
    code, out = _cli(net, "ta", "request", "modify", A_REQUEST, "--weight", "5.5",
                     "--running", "--json")
    assert code == 0, out
    assert weight() == "5.5"
    # a new request in its own slice (NETCONF and RESTCONF carry the slice leaf)
    net.nc("ta").edit_config(target="running", config=_request_xml("new-a", "slice-a"))
    entry = {"name": "new-a2", "source-node": "alice", "destination-node": "bob",
             "application": "sdqn-types:qkd", "min-fidelity": "0.8",
             "demanded-rate": "10.0", "sdqn-slices:slice": "slice-a2"}
    created = net.rc("ta").post(COLLECTION, json={"sdqn-services:request": [entry]},
                                headers=JSON_TYPE)
    assert created.status_code == 201, created.text
    code, out = _cli(net, "ta", "request", "add", "new-a3", "--src", "alice", "--dst",
                     "bob", "--app", "qkd", "--min-fidelity", "0.8", "--rate", "10",
                     "--slice", "slice-a", "--running", "--json")
    assert code == 0, out
    shown = net.call("ta", "GetRequest", net.pb.GetRequestRequest(name="new-a3"))
    assert shown.request.slice == "slice-a"
    assert _grpc_names(net, "ta") == {A_REQUEST, "new-a", "new-a2", "new-a3"}
    assert _grpc_names(net, "tb") == {B_REQUEST}
    net.nc("ta").edit_config(target="running", config=_request_xml("new-a", op="delete"))
    assert "new-a" not in _grpc_names(net, "operator")


# -- notifications and event streams ----------------------------------------------------------


class Collector:
    """Events arriving on a thread, waited on by content."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.changed = threading.Condition()

    def add(self, item: str) -> None:
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait_for(self, text: str) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: any(text in i for i in self.items),
                                         NOTIF_WAIT_S), self.items

    def __contains__(self, text: str) -> bool:
        with self.changed:
            return any(text in i for i in self.items)


def _sse(net: Interfaces, user: str, collector: Collector) -> Callable[[], None]:
    client = httpx.Client(base_url=net.restconf.url, auth=(user, user), timeout=30)
    ready = threading.Event()

    def run() -> None:
        try:
            with client.stream("GET", STREAM, headers={"Accept": "text/event-stream"}) as r:
                for line in r.iter_lines():
                    ready.set()
                    if line.startswith("data: "):
                        collector.add(line[6:])
        except httpx.HTTPError:
            pass

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(5)
    return client.close


def _watch(net: Interfaces, user: str, collector: Collector) -> Callable[[], None]:
    stub = net.stubs.ControllerServiceStub(net.channel)
    stream = stub.Watch(net.pb.WatchRequest(), metadata=(
        ("authorization", f"Bearer {user}-token"),))

    def run() -> None:
        try:
            for event in stream:
                collector.add(str(event))
        except grpc.RpcError:
            pass

    threading.Thread(target=run, daemon=True).start()

    def close() -> None:
        stream.cancel()

    return close


def _netconf_listener(net: Interfaces, user: str, collector: Collector
                      ) -> Callable[[], None]:
    mgr = net.nc(user, fresh=True)
    mgr.create_subscription()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            note = mgr.take_notification(block=True, timeout=0.1)
            if note is not None:
                collector.add(note.notification_xml)

    threading.Thread(target=run, daemon=True).start()

    def close() -> None:
        stop.set()
        with contextlib.suppress(Exception):
            mgr.close_session()

    return close


def test_notifications_and_streams_carry_only_own_events(net: Interfaces) -> None:
    listeners = {}
    closers = []
    for user in ("ta", "operator"):
        for kind, start in (("netconf", _netconf_listener), ("sse", _sse),
                            ("grpc", _watch)):
            collector = Collector()
            closers.append(start(net, user, collector))
            listeners[(user, kind)] = collector
    try:
        while net.hub.subscribers < 4:
            threading.Event().wait(0.01)
        # the service layer's publications: NETCONF notifications and operational state
        for name in (B_REQUEST, A_REQUEST):
            net.netconf.publish(etree.fromstring(
                f'<service-state-change xmlns="{SVC}"><name>{name}</name>'
                "<oper-state>degraded</oper-state><reason>test</reason>"
                "</service-state-change>"))
            net.store.merge_state(json.dumps({"sdqn-services:entanglement-services": {
                "request": [{"name": name, "state": {"oper-state": "degraded"}}]}}))
            # a configuration change of the request, by the admin
            net.nc("admin").edit_config(target="running", config=_request_xml(
                name, weight="1.25"))
        for kind in ("netconf", "sse", "grpc"):
            operator, ta = listeners[("operator", kind)], listeners[("ta", kind)]
            operator.wait_for(B_REQUEST)
            operator.wait_for(A_REQUEST)
            ta.wait_for(A_REQUEST)
        # everything was published B first: once A's events arrived, B's would have
        threading.Event().wait(0.3)
        for kind in ("netconf", "sse", "grpc"):
            assert B_REQUEST not in listeners[("ta", kind)], kind
            assert "dqc" not in listeners[("ta", kind)]
    finally:
        for close in closers:
            close()
