"""The benchmark's yuma123 netconfd peer: started, reached over SSH (or its relay), read,
edited, measured on /proc, and stopped without leaving a process behind.

Real parts only: Debian's netconfd, OpenSSH's sshd and yuma's netconf-subsystem
(`make test` installs them). No timing is checked: the figures belong to the bench.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from lxml import etree

from controller.bench import netconfd_peer
from controller.bench.netconfd_peer import (
    EMPTY_GET,
    NetconfdPeer,
    PeerEndpoint,
    edit_config,
    entry_name,
    get_config_entry,
    rpc_ok,
)
from controller.bench.proc_cpu import (
    descendants,
    process_cpu_seconds,
    process_table,
    tree_cpu_seconds,
)
from controller.netconf.client import NC_NS

pytestmark = pytest.mark.skipif(not netconfd_peer.netconfd_available(),
                                reason="Debian package netconfd is not installed")

NS = {"p": netconfd_peer.PEER_NS}
SSHD_INSTALLED = os.access(netconfd_peer.SSHD, os.X_OK)


def _leaf(reply: etree._Element, path: str) -> str | None:
    found = reply.xpath(f"//p:entries/p:entry/{path}/text()", namespaces=NS)
    assert isinstance(found, list)
    return str(found[0]) if found else None


def _serving_pids(peer: NetconfdPeer) -> list[int]:
    table = process_table()
    return [pid for root in peer.pids for pid in descendants(root, table)]


def _gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids among `pids` still alive (not even a zombie) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _runs(pid: int, program: Path) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(str(program).encode())
    except OSError:
        return False


@pytest.fixture(params=["ssh", "relay"])
def peer(request: pytest.FixtureRequest) -> Iterator[NetconfdPeer]:
    if request.param == "ssh" and not SSHD_INSTALLED:
        pytest.skip("Debian package openssh-server is not installed")
    with NetconfdPeer(entries=50, target="running", transport=request.param) as started:
        yield started


def test_a_client_reads_one_entry_edits_a_leaf_and_reads_it_back(peer: NetconfdPeer) -> None:
    client = peer.connect()
    try:
        entry = client.rpc(get_config_entry(entry_name(7)))
        assert rpc_ok(entry)
        assert _leaf(entry, "p:name") == "e7"
        assert _leaf(entry, "p:rate") == "7.5"
        assert len(entry.xpath("//p:entry", namespaces=NS)) == 1   # one entry, not the list

        for body in peer.edit_ops(entry_name(7), "rate", "12.5"):
            assert rpc_ok(client.rpc(body))
        assert _leaf(client.rpc(get_config_entry(entry_name(7))), "p:rate") == "12.5"

        for body in peer.edit_ops(entry_name(7), "coherence-time", "2.25"):
            assert rpc_ok(client.rpc(body))
        after = client.rpc(get_config_entry(entry_name(7)))
        assert _leaf(after, "p:quantum/p:coherence-time") == "2.250"
    finally:
        client.close()


def test_cpu_seconds_grows_with_work_and_every_process_stops(peer: NetconfdPeer) -> None:
    client = peer.connect()
    serving = _serving_pids(peer)
    if peer.transport == "ssh":
        # netconfd, the sshd listener, its session process(es) and the relay.
        assert len(serving) >= 4, serving
    before = peer.cpu_seconds()
    deadline = time.monotonic() + 60
    while peer.cpu_seconds() <= before and time.monotonic() < deadline:
        for _ in range(200):
            assert rpc_ok(client.rpc(EMPTY_GET))
    assert peer.cpu_seconds() > before
    assert set(peer.cpu_breakdown()) == {"netconfd", "transport"}
    assert peer.cpu_breakdown()["netconfd"] > 0
    client.close()
    relays = [pid for pid in process_table() if _runs(pid, netconfd_peer.NETCONF_SUBSYSTEM)]

    peer.stop()
    assert _gone(serving + relays) == []
    assert peer.pids == []


def test_the_edit_rpcs_follow_the_target() -> None:
    running = NetconfdPeer(target="running", transport="relay")
    candidate = NetconfdPeer(target="candidate", transport="relay")
    assert running.edit_ops("e1", "rate", "1.5") == [edit_config("running", "e1", "rate", "1.5")]
    assert candidate.edit_ops("e1", "rate", "1.5") == [
        edit_config("candidate", "e1", "rate", "1.5"), netconfd_peer.COMMIT]


def test_candidate_edit_and_commit_reach_running() -> None:
    with NetconfdPeer(entries=20, target="candidate") as peer:
        client = peer.connect()
        try:
            for body in peer.edit_ops(entry_name(3), "rate", "99.5"):
                assert rpc_ok(client.rpc(body))
            assert _leaf(client.rpc(get_config_entry(entry_name(3))), "p:rate") == "99.5"
            # The must holds the edit back: memory qubits without a coherence-time.
            refused = client.rpc(
                f'<edit-config xmlns="{NC_NS}"><target><candidate/></target>'
                f'<config><entries xmlns="{netconfd_peer.PEER_NS}"><entry><name>e3</name>'
                '<quantum><coherence-time xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'
                ' nc:operation="delete"/></quantum></entry></entries></config></edit-config>')
            if rpc_ok(refused):
                refused = client.rpc(netconfd_peer.COMMIT)
            assert not rpc_ok(refused)
        finally:
            client.close()


def _connect_elsewhere(endpoint: PeerEndpoint, send: Connection) -> None:
    client = endpoint.connect()
    send.send(_leaf(client.rpc(get_config_entry(entry_name(2))), "p:rate"))
    client.close()


def test_a_client_process_connects_through_the_endpoint() -> None:
    with NetconfdPeer(entries=5) as peer:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_connect_elsewhere, args=(peer.endpoint, send))
        proc.start()
        assert receive.poll(60)
        assert receive.recv() == "2.5"
        proc.join(30)
        assert proc.exitcode == 0


def test_process_and_tree_cpu_count_a_child_and_its_reaped_children() -> None:
    burn = ("import subprocess, sys, time\n"
            "code = 'import time\\nend = time.process_time() + 0.3\\n"
            "while time.process_time() < end: pass'\n"
            "subprocess.run([sys.executable, '-c', code], check=True)\n"
            "print('done', flush=True)\n"
            "time.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "done\n"
        own = process_cpu_seconds(parent.pid)
        with_children = process_cpu_seconds(parent.pid, reaped_children=True)
        assert with_children - own >= 0.25      # the exited grandchild's burn, reaped
        assert tree_cpu_seconds(parent.pid) >= with_children
        assert descendants(parent.pid) == [parent.pid]
    finally:
        parent.kill()
        parent.wait()
    with pytest.raises(ProcessLookupError):
        process_cpu_seconds(parent.pid)
