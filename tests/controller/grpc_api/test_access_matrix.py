"""One access decision everywhere (RFC 8341): every operation × NETCONF (ncclient over
SSH), RESTCONF (httpx) and gRPC × admin, operator (read-only) and an account in no
NACM group ("nobody": the policy defaults apply). Each cell must be the same decision
on every interface; a denied write changes nothing (no version bump). kill-session
exists on NETCONF only (RFC 6241 §7.9), so its row has one interface.

Then the what-if budget: dry-runs from one user share one token bucket across the three
interfaces, and the next one is resource-denied / RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from controller.app.change_rpcs import netconf_change_rpcs, restconf_change_rpcs
from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.ratelimit import RateLimit, TokenBuckets
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.service.change import ChangeControl
from controller.service.expansion import QnumExpander
from tests.controller.grpc_api.conftest import Stub, serving

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SVC = "urn:sdqn:sdqn-services"
CTL = "urn:sdqn:sdqn-controller"
REQUEST = "/restconf/data/sdqn-services:entanglement-services/request=qkd-alice-bob"
USERS = ("admin", "operator", "nobody")
OK, DENIED = "ok", "access-denied"
#: operation -> user -> decision, the same on every interface
EXPECTED: dict[str, dict[str, str]] = {
    "get": {"admin": OK, "operator": OK, "nobody": OK},
    "edit-no-op": {"admin": OK, "operator": DENIED, "nobody": DENIED},
    "edit-change": {"admin": OK, "operator": DENIED, "nobody": DENIED},
    # exec-default is permit and a clean candidate writes nothing
    "commit": {"admin": OK, "operator": DENIED, "nobody": OK},
    "dry-run": {"admin": OK, "operator": OK, "nobody": OK},
    # RFC 8341 §3.2.6 default deny for kill-session
    "kill-session": {"admin": OK, "operator": DENIED, "nobody": DENIED},
}
_changes = iter(range(1, 1000))


def weight(kind: str) -> str:
    """The current weight of qkd-alice-bob (demo.json: 1.0) for a no-op edit; a value no
    earlier call wrote for a change."""
    return "1.0" if kind == "no-op" else f"{1 + next(_changes) / 4:.2f}"


class Interfaces:
    """The three northbounds over one store, one call per (operation, user)."""

    def __init__(self, netconf: NetconfServer, restconf: RestconfServer, grpc_target: str,
                 pb: Any) -> None:
        self.netconf, self.restconf, self.pb = netconf, restconf, pb
        self.channel = grpc.insecure_channel(grpc_target)
        self.managers: dict[str, manager.Manager] = {}
        self.http: dict[str, httpx.Client] = {}

    def close(self) -> None:
        for mgr in self.managers.values():
            with contextlib.suppress(Exception):
                mgr.close_session()
        for client in self.http.values():
            client.close()
        self.channel.close()

    def nc(self, user: str) -> manager.Manager:
        if user not in self.managers:
            self.managers[user] = manager.connect(
                host="127.0.0.1", port=self.netconf.port, username=user, password=user,
                hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)
        return self.managers[user]

    def rc(self, user: str) -> httpx.Client:
        if user not in self.http:
            self.http[user] = httpx.Client(base_url=self.restconf.url, timeout=30,
                                           auth=(user, user))
        return self.http[user]

    def grpc(self, user: str) -> Stub:
        return Stub(self.channel, user)

    # -- one call, its decision ------------------------------------------------------------

    def netconf_call(self, op: str, user: str) -> str:
        mgr = self.nc(user)
        try:
            if op == "get":
                mgr.get_config("running")
            elif op.startswith("edit-"):
                mgr.edit_config(target="running", config=(
                    f'<config xmlns="{NC}"><entanglement-services xmlns="{SVC}"><request>'
                    f"<name>qkd-alice-bob</name><weight>{weight(op[5:])}</weight>"
                    "</request></entanglement-services></config>"))
            elif op == "commit":
                mgr.commit()
            elif op == "dry-run":
                mgr.dispatch(etree.fromstring(f'<dry-run xmlns="{CTL}"/>'))
            elif op == "kill-session":
                victim = manager.connect(
                    host="127.0.0.1", port=self.netconf.port, username="admin",
                    password="admin", hostkey_verify=False, look_for_keys=False,
                    allow_agent=False, timeout=30)
                try:
                    mgr.kill_session(victim.session_id)
                finally:
                    with contextlib.suppress(Exception):
                        victim.close_session()
        except RPCError as err:
            return str(err.tag)
        return OK

    def restconf_call(self, op: str, user: str) -> str | None:
        client = self.rc(user)
        if op == "get":
            response = client.get(REQUEST)
        elif op.startswith("edit-"):
            response = client.patch(REQUEST, json={"sdqn-services:request": [
                {"name": "qkd-alice-bob", "weight": weight(op[5:])}]},
                headers={"Content-Type": "application/yang-data+json"})
        elif op == "commit":
            response = client.post("/restconf/operations/ietf-netconf:commit")
        elif op == "dry-run":
            response = client.post("/restconf/operations/sdqn-controller:dry-run")
        else:
            return None  # no such operation on RESTCONF
        if response.is_success:
            return OK
        return str(response.json()["ietf-restconf:errors"]["error"][0]["error-tag"])

    def grpc_call(self, op: str, user: str) -> str | None:
        stub, pb = self.grpc(user), self.pb
        try:
            if op == "get":
                stub.GetRequest(pb.GetRequestRequest(name="qkd-alice-bob"))
            elif op.startswith("edit-"):
                stub.ModifyRequest(pb.ModifyRequestRequest(
                    target=pb.TARGET_RUNNING, request=pb.EntanglementRequest(
                        name="qkd-alice-bob", weight=float(weight(op[5:])))))
            elif op == "commit":
                stub.Commit(pb.CommitRequest())
            elif op == "dry-run":
                stub.DryRun(pb.DryRunRequest(action="commit"))
            else:
                return None  # no such operation on gRPC
        except grpc.RpcError as err:
            codes = {grpc.StatusCode.PERMISSION_DENIED: DENIED,
                     grpc.StatusCode.RESOURCE_EXHAUSTED: "resource-denied"}
            return codes.get(err.code(), str(err.code()))
        return OK


@pytest.fixture
def interfaces(store: NmdaStore, netconf: NetconfServer, access: DataAccess, hub: EventHub,
               pb: Any) -> Iterator[Callable[[RateLimit], Interfaces]]:
    expander = QnumExpander(time_limit_s=2.0)
    change = ChangeControl(store, expander)
    started: list[Any] = []

    def build(what_if: RateLimit) -> Interfaces:
        netconf.core.what_if = TokenBuckets(what_if, "what-if")
        netconf.core.extra_rpcs.update(netconf_change_rpcs(change, netconf.core))
        restconf = RestconfServer(access, hub=hub, max_body=64 * 1024,
                                  extra_rpcs=restconf_change_rpcs(change, access))
        restconf.start()
        started.append(restconf)
        grpc_serving = serving(access, hub, expander)
        server = grpc_serving.__enter__()
        started.append(grpc_serving)
        found = Interfaces(netconf, restconf, server.target, pb)
        started.append(found)
        return found

    yield build
    for item in reversed(started):
        if isinstance(item, RestconfServer):
            item.stop()
        elif isinstance(item, Interfaces):
            item.close()
        else:
            item.__exit__(None, None, None)


def test_decision_matrix(interfaces: Callable[[RateLimit], Interfaces],
                         store: NmdaStore) -> None:
    ifs = interfaces(RateLimit(per_minute=600, burst=100))
    seen: dict[tuple[str, str, str], str] = {}
    for op in EXPECTED:
        for user in USERS:
            for name, call in (("netconf", ifs.netconf_call), ("restconf", ifs.restconf_call),
                               ("grpc", ifs.grpc_call)):
                versions = dict(store.versions)
                running = store.get(Datastore.RUNNING)
                decision = call(op, user)
                if decision is None:
                    continue
                seen[op, user, name] = decision
                if decision != OK:
                    # denied: nothing changed, not even a version
                    assert store.versions == versions, (op, user, name)
                    assert store.get(Datastore.RUNNING) == running, (op, user, name)
    wrong = {cell: got for cell, got in seen.items() if got != EXPECTED[cell[0]][cell[1]]}
    assert not wrong
    assert {name for _op, _user, name in seen} == {"netconf", "restconf", "grpc"}
    assert sum(1 for cell in seen if cell[0] == "kill-session") == len(USERS)


def test_what_if_budget_is_shared_by_every_interface(
        interfaces: Callable[[RateLimit], Interfaces], store: NmdaStore) -> None:
    ifs = interfaces(RateLimit(per_minute=0.001, burst=3))
    assert [ifs.netconf_call("dry-run", "operator"), ifs.restconf_call("dry-run", "operator"),
            ifs.grpc_call("dry-run", "operator")] == [OK, OK, OK]
    versions = dict(store.versions)
    assert ifs.netconf_call("dry-run", "operator") == "resource-denied"
    assert ifs.restconf_call("dry-run", "operator") == "resource-denied"
    assert ifs.grpc_call("dry-run", "operator") == "resource-denied"
    assert store.versions == versions
    assert ifs.grpc_call("dry-run", "admin") == OK  # a budget per user


def test_what_if_needs_exec_permission_everywhere(
        interfaces: Callable[[RateLimit], Interfaces], store: NmdaStore, pb: Any) -> None:
    """A rule denying exec on sdqn-controller:dry-run (RFC 8341 §3.4.4) denies every
    what-if: the rpc on NETCONF and RESTCONF, gRPC DryRun and WhatIf; admin unaffected."""
    ifs = interfaces(RateLimit(per_minute=600, burst=100))
    store.edit_json(Datastore.RUNNING, {"ietf-netconf-acm:nacm": {"rule-list": [{
        "name": "no-what-if", "group": ["operator"], "rule": [{
            "name": "no-dry-run", "module-name": "sdqn-controller", "rpc-name": "dry-run",
            "access-operations": "exec", "action": "deny"}]}]}})
    assert [ifs.netconf_call("dry-run", "operator"), ifs.restconf_call("dry-run", "operator"),
            ifs.grpc_call("dry-run", "operator")] == [DENIED] * 3
    with pytest.raises(grpc.RpcError) as exc:
        ifs.grpc("operator").WhatIf(pb.WhatIfRequest())
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ifs.grpc_call("dry-run", "admin") == OK


def test_no_op_datastore_replace_by_read_only_user(
        interfaces: Callable[[RateLimit], Interfaces], store: NmdaStore) -> None:
    """PUT of running's own content (RFC 8040 §4.5 on the datastore resource) changes
    nothing, yet a read-only user asked to write it all: access-denied, no version bump;
    admin's identical PUT is allowed."""
    ifs = interfaces(RateLimit())
    running = "/restconf/ds/ietf-datastores:running"
    content = ifs.rc("admin").get(running, headers={"Accept": "application/yang-data+json"})
    assert content.status_code == 200
    versions = dict(store.versions)
    denied = ifs.rc("operator").put(running, content=content.content,
                                    headers={"Content-Type": "application/yang-data+json"})
    assert denied.status_code == 403
    assert denied.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == DENIED
    assert store.versions == versions
    assert ifs.rc("admin").put(running, content=content.content, headers={
        "Content-Type": "application/yang-data+json"}).is_success
