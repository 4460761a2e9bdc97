"""The datastore measured the way users reach it: the daemon's NETCONF (SSH) and RESTCONF
(HTTP) servers in this process, each client in its own process, the server's CPU per
operation read from /proc over exactly the measured window.

The servers are built as `sdqn daemon` builds them (persistent store with SQLite
synchronous=FULL, commit history, NACM seeded and enforced, RESTCONF sharing the NETCONF
core) without the service layer: a commit here is the datastore's write path (validate,
journal, history, publish), not a Q-NUM solve or a device push, which `sdqn bench qnum`
and `sdqn bench southbound` measure.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lxml import etree

from controller.app.restconf import build_restconf
from controller.app.store import open_history, open_store
from controller.bench.clients import (
    Connection,
    Measured,
    measure,
    own_cpu_seconds,
    session_window,
)
from controller.bench.datastore_tree import Tree
from controller.bench.netconfd_peer import COMMIT as PEER_COMMIT
from controller.bench.netconfd_peer import EMPTY_GET as PEER_EMPTY_GET
from controller.bench.netconfd_peer import edit_config, entry_name, get_config_entry
from controller.daemon import build_server, controller_schema
from controller.datastore.nmda import Datastore
from controller.netconf.client import RawNetconfClient
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.settings import AuthSettings, ControllerSettings, NetconfUser

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
TOPO = "urn:sdqn:sdqn-topology"
SVC = "urn:sdqn:sdqn-services"
USER = "admin"

#: An empty subtree filter selects nothing (RFC 6241 §6.4.2): SSH, framing, parsing and
#: dispatch only — the protocol floor every other row is compared with.
FLOOR = f'<get xmlns="{NC}"><filter type="subtree"/></get>'
COMMIT = "<commit/>"


@dataclass(frozen=True)
class NetconfWork:
    """One operation: the rpcs a session sends in turn. `{n}` (an integer) and `{d}` (a
    decimal) in them change every repetition, so every edit changes a value."""

    key: str                    # the same operation on another server has the same key
    name: str
    rpcs: tuple[str, ...]
    sessions: int = 1           # per client process
    processes: int = 1

    total_sessions = property(lambda self: self.sessions * self.processes)


def netconf_works(tree: Tree, readers: int) -> list[NetconfWork]:
    request_filter = (f'<filter type="subtree"><entanglement-services xmlns="{SVC}">'
                      f"<request><name>{tree.request}</name></request>"
                      "</entanglement-services></filter>")
    get_config = f"<get-config><source><running/></source>{request_filter}</get-config>"
    rate = (f'<entanglement-services xmlns="{SVC}"><request><name>{tree.request}</name>'
            "<demanded-rate>{d}</demanded-rate></request></entanglement-services>")
    coherence = (f'<networks xmlns="{NW}"><network><network-id>{tree.network}</network-id>'
                 f"<node><node-id>{tree.node}</node-id><quantum-node xmlns=\"{TOPO}\">"
                 "<coherence-time>{d}</coherence-time></quantum-node></node></network>"
                 "</networks>")
    return [
        NetconfWork("floor", "<get>, empty filter (protocol floor)", (FLOOR,)),
        NetconfWork("get", "get-config one request", (get_config,)),
        _readers(NetconfWork("get-many", "get-config one request", (get_config,)), readers),
        NetconfWork("edit", "edit-config running: one leaf", (_edit("running", rate),)),
        NetconfWork("commit", "edit-config candidate: one leaf + <commit>",
                    (_edit("candidate", rate), COMMIT)),
        NetconfWork("must", "edit-config running: leaf under a must",
                    (_edit("running", coherence),)),
    ]


def peer_works(readers: int) -> tuple[list[NetconfWork], list[NetconfWork]]:
    """The same operations on the netconfd peer's list: (with running as its target,
    with candidate as its target — netconfd serves one writable target per run)."""
    entry = entry_name(7)
    get_config = get_config_entry(entry)
    running = [
        NetconfWork("floor", "<get>, empty filter (protocol floor)", (PEER_EMPTY_GET,)),
        NetconfWork("get", "get-config one entry", (get_config,)),
        _readers(NetconfWork("get-many", "get-config one entry", (get_config,)), readers),
        NetconfWork("edit", "edit-config running: one leaf",
                    (edit_config("running", entry, "rate", "{d}"),)),
        NetconfWork("must", "edit-config running: leaf under a must",
                    (edit_config("running", entry, "coherence-time", "{d}"),)),
    ]
    candidate = [NetconfWork("commit", "edit-config candidate: one leaf + <commit>",
                             (edit_config("candidate", entry, "rate", "{d}"), PEER_COMMIT))]
    return running, candidate


def _readers(work: W, readers: int) -> W:
    """`readers` sessions spread over client processes of five sessions at most, so that
    no client interpreter is what limits them."""
    processes = max(1, -(-readers // 5))
    return dataclasses.replace(work, sessions=max(1, readers // processes),
                               processes=processes)


def _edit(target: str, config: str) -> str:
    return (f"<edit-config><target><{target}/></target><config>{config}</config>"
            "</edit-config>")


@dataclass(frozen=True)
class RestconfWork:
    key: str
    name: str
    method: str
    path: str
    body: str | None = None     # `{d}` changes every repetition
    sessions: int = 1           # per client process
    processes: int = 1

    total_sessions = property(lambda self: self.sessions * self.processes)


W = TypeVar("W", NetconfWork, RestconfWork)


def restconf_works(tree: Tree, readers: int) -> list[RestconfWork]:
    request = f"/restconf/data/sdqn-services:entanglement-services/request={tree.request}"
    running = ("/restconf/ds/ietf-datastores:running/sdqn-services:entanglement-services/"
               f"request={tree.request}/demanded-rate")
    get = RestconfWork("get", "GET one request", "GET", request)
    return [
        RestconfWork("floor", "GET yang-library-version (HTTP floor)", "GET",
                     "/restconf/yang-library-version"),
        get,
        _readers(dataclasses.replace(get, key="get-many"), readers),
        RestconfWork("edit", "PATCH running: one leaf", "PATCH", running,
                     '{{"sdqn-services:demanded-rate": "{d}"}}'),
    ]


# -- the client processes ------------------------------------------------------------------

def _values(i: int) -> dict[str, str]:
    return {"n": str(1 + i % 50), "d": f"{1 + i % 50}.5"}


def _netconf_op(client: Any, i: int, *, rpcs: Sequence[str]) -> None:
    for template in rpcs:
        reply = client.rpc(template.format(**_values(i)))
        if reply.find(f"{{{NC}}}rpc-error") is not None:
            raise RuntimeError(etree.tostring(reply).decode()[:500])


def netconf_client(connect: Callable[[], Any], work: NetconfWork, seconds: float,
                   conn: Connection) -> None:
    """Client process: `work.sessions` NETCONF sessions."""
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    session_window(connect, functools.partial(_netconf_op, rpcs=work.rpcs), work.sessions,
                   seconds, conn)


def _restconf_op(client: Any, i: int, *, work: RestconfWork) -> None:
    body = work.body.format(**_values(i)) if work.body is not None else None
    reply = client.request(work.method, work.path, content=body,
                           headers={"Content-Type": "application/yang-data+json",
                                    "Accept": "application/yang-data+json"})
    if reply.status_code >= 300:
        raise RuntimeError(f"{work.method} {work.path}: {reply.status_code} {reply.text}")


def restconf_client(url: str, work: RestconfWork, seconds: float, conn: Connection) -> None:
    """Client process: httpx keep-alive connections, one per session."""
    import httpx  # the bench's client only (extra `bench`)

    session_window(functools.partial(httpx.Client, base_url=url, auth=(USER, USER),
                                     timeout=30),
                   functools.partial(_restconf_op, work=work), work.sessions, seconds, conn)


# -- the servers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Servers:
    netconf_port: int
    restconf_url: str

    def netconf_connector(self) -> Callable[[], Any]:
        return functools.partial(RawNetconfClient, "127.0.0.1", self.netconf_port, USER, USER)


@contextmanager
def serving(tree: Tree) -> Iterator[Servers]:
    """The daemon's NETCONF and RESTCONF servers over a store holding `tree`."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = ControllerSettings.load()
        settings.datastore.data_dir = Path(tmp)
        settings.netconf.port = 0
        settings.netconf.host_key = Path(tmp) / "host_key"
        settings.netconf.auth = AuthSettings(users=[NetconfUser(name=USER, password=USER)])
        settings.restconf.port = 0
        settings.restconf.metrics = False
        store = open_store(settings, schema=controller_schema(settings))
        store.copy(Datastore.RUNNING, content=json.dumps(tree.content))
        history = open_history(settings, store)
        server = build_server(settings, store, history)
        server.start()
        access = DataAccess(store, users=settings.netconf.auth, nacm=settings.netconf.nacm,
                            core=server.core)
        hub = EventHub(store)
        restconf = build_restconf(settings, access, hub, history)
        restconf.start()
        try:
            yield Servers(server.port, restconf.url)
        finally:
            restconf.stop()
            hub.stop()
            access.close()
            server.stop()
            history.close()
            store.close()


def measure_netconf(connect: Callable[[], Any], work: NetconfWork, seconds: float,
                    cpu: Callable[[], float] = own_cpu_seconds) -> Measured:
    return measure(netconf_client, (connect, work, seconds), cpu, work.processes)


def measure_restconf(url: str, work: RestconfWork, seconds: float) -> Measured:
    return measure(restconf_client, (url, work, seconds), processes=work.processes)
