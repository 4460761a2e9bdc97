"""Fixtures for the emulated devices: the metro plant, a started network on free ports
with a manual clock (tests move time explicitly), and ncclient sessions."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import ncclient.transport.session
import pytest
from lxml import etree
from ncclient import manager

from simulators.clock import ManualClock
from simulators.devices.world import Topology
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache

NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
END = "urn:sdqn:sdqn-end-node"
REP = "urn:sdqn:sdqn-repeater"
APC = "urn:sdqn:sdqn-apc"
QRD = "urn:sdqn:sdqn-qroadm"


@pytest.fixture(autouse=True)
def fast_ncclient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ncclient.transport.session, "TICK", 0.001)


@pytest.fixture(scope="session")
def metro() -> Topology:
    return Topology.load(DEFAULT_TOPOLOGY)


@pytest.fixture(scope="session")
def schemas() -> SchemaCache:
    return SchemaCache()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def network(metro: Topology, clock: ManualClock, schemas: SchemaCache) -> Iterator[Network]:
    net = Network(metro, clock=clock, seed=7, use_topology_ports=False, tick=0.05,
                  schemas=schemas)
    net.start()
    try:
        yield net
    finally:
        net.stop()


Connect = Callable[[str], manager.Manager]


@pytest.fixture
def connect(network: Network) -> Iterator[Connect]:
    sessions: list[manager.Manager] = []

    def make(node_id: str) -> manager.Manager:
        m = manager.connect_ssh(host="127.0.0.1", port=network.devices[node_id].port,
                                username="admin", password="admin", hostkey_verify=False,
                                look_for_keys=False, allow_agent=False, timeout=10)
        sessions.append(m)
        return m

    yield make
    for m in sessions:
        with contextlib.suppress(Exception):
            m.close_session()


def advance(network: Network, clock: ManualClock, seconds: float, step: float = 1.0) -> None:
    """Move simulated time in steps, ticking every device at each step."""
    remaining = seconds
    while remaining > 1e-12:
        dt = min(step, remaining)
        clock.advance(dt)
        network.ticker.tick_once()
        remaining -= dt


def get_data(m: manager.Manager, datastore: str = "operational") -> etree._Element:
    rpc = etree.Element(f"{{{NMDA}}}get-data", nsmap={None: NMDA, "ds": DS})
    etree.SubElement(rpc, f"{{{NMDA}}}datastore").text = f"ds:{datastore}"
    reply = m.dispatch(rpc)
    return etree.fromstring(reply.xml.encode())


def find_text(root: etree._Element, path: str, ns: str) -> str | None:
    """Text of the first element at a slash path of local names in namespace ``ns``."""
    xpath = "//" + "/".join(f"n:{step}" for step in path.split("/"))
    found = root.xpath(xpath, namespaces={"n": ns})
    return found[0].text if found else None


def wait_notification(m: manager.Manager, match: Callable[[etree._Element], bool],
                      timeout: float = 5.0) -> etree._Element:
    """The first notification satisfying ``match`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        note = m.take_notification(block=True, timeout=max(0.01, deadline - time.monotonic()))
        if note is None:
            continue
        root = etree.fromstring(note.notification_xml.encode())
        if match(root):
            return root
    raise AssertionError("expected notification did not arrive in time")


def has(name: str, ns: str, text: str | None = None) -> Callable[[etree._Element], bool]:
    """Matcher: the notification contains element ``name`` (with ``text`` inside)."""

    def match(root: etree._Element) -> bool:
        el = root.find(f".//{{{ns}}}{name}")
        return el is not None and (text is None or text in etree.tostring(el).decode())

    return match
