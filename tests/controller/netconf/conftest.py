"""Fixtures: a store with the metro topology and the default NACM rules, a real server on
a free localhost port, and ncclient sessions that are closed after each test."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ncclient.transport.session
import pytest
from lxml import etree
from ncclient import manager

from controller.app.store import device_modules
from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.core import Limits
from controller.netconf.nacm import seed_nacm
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES, AuthSettings, NetconfUser

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
TOPO = "urn:sdqn:sdqn-topology"
SVC = "urn:sdqn:sdqn-services"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
METRO = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
SERVICES = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
NODE_XPATH = "/ietf-network:networks/network[network-id='metro']/node[node-id='{}']"

AUTH = AuthSettings(users=[NetconfUser(name=n, password=n)
                           for n in ("admin", "operator", "writer", "nobody")],
                    recovery_users=["admin"])
LIMITS = Limits(max_message_size=1 << 20, hello_timeout=3.0, send_timeout=5.0)


@pytest.fixture(autouse=True)
def fast_ncclient(monkeypatch: pytest.MonkeyPatch) -> None:
    # ncclient polls its send queue every TICK (100 ms); tests would spend most of their
    # time waiting on it.
    monkeypatch.setattr(ncclient.transport.session, "TICK", 0.002)


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The product's modules, with the device modules mounted as the daemon has them."""
    return Schema(list(PRODUCT_MODULES), mounted_modules=device_modules())


def make_store(schema: Schema) -> NmdaStore:
    store = NmdaStore(schema)
    seed_nacm(store, CONFIG_DIR / "nacm.json")
    store.edit_json(Datastore.RUNNING, METRO)
    store.edit_json(Datastore.RUNNING, SERVICES)
    return store


@pytest.fixture
def store(schema: Schema) -> NmdaStore:
    return make_store(schema)


@pytest.fixture
def history(store: NmdaStore) -> Iterator[RunningHistory]:
    """Every change of the test store's running, recorded in memory."""
    recorder = RunningHistory(store, CommitLog(None))
    yield recorder
    recorder.close()


@pytest.fixture
def server(store: NmdaStore, tmp_path: Path) -> Iterator[NetconfServer]:
    srv = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key", limits=LIMITS,
                        name="test")
    srv.start()
    yield srv
    srv.stop()


Connect = Callable[..., manager.Manager]


@pytest.fixture
def connect(server: NetconfServer) -> Iterator[Connect]:
    managers: list[manager.Manager] = []

    def _connect(user: str = "admin", password: str | None = None, **kwargs: Any
                 ) -> manager.Manager:
        mgr = manager.connect(host="127.0.0.1", port=server.port, username=user,
                              password=password if password is not None else user,
                              hostkey_verify=False, look_for_keys=False, allow_agent=False,
                              timeout=10, **kwargs)
        managers.append(mgr)
        return mgr

    yield _connect
    for mgr in managers:
        if mgr.connected:
            with contextlib.suppress(Exception):  # the test may have broken the session
                mgr.close_session()


def xml(reply: Any) -> etree._Element:
    """The reply (ncclient RPCReply or raw bytes) as an element."""
    raw = reply.xml if hasattr(reply, "xml") else reply
    return etree.fromstring(raw.encode() if isinstance(raw, str) else raw)


def leaf_edit(value: str, node: str = "alice", operation: str | None = None) -> str:
    op = f' xmlns:nc="{NC}" nc:operation="{operation}"' if operation else ""
    return (f'<config xmlns="{NC}"><networks xmlns="{NW}"><network>'
            f"<network-id>metro</network-id><node><node-id>{node}</node-id>"
            f'<quantum-node xmlns="{TOPO}"><coherence-time{op}>{value}</coherence-time>'
            "</quantum-node></node></network></networks></config>")


def t2(store: NmdaStore, ds: Datastore = Datastore.RUNNING, node: str = "alice") -> str | None:
    data = json.loads(store.get(ds, xpath=NODE_XPATH.format(node)) or "{}")
    try:
        net = data["ietf-network:networks"]["network"][0]
        return str(net["node"][0]["sdqn-topology:quantum-node"]["coherence-time"])
    except (KeyError, IndexError):
        return None
