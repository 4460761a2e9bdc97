"""Constraints of the candidate wait for <validate>/<commit> (RFC 7950 §8.3.3), running
is checked at each edit (RFC 6241 §8.2), delete-config targets startup only (RFC 6241
§7.4), and a node named twice in one edit is refused: driven over SSH by ncclient, and
one deferred case by netconf-console2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.paths import REPO_ROOT
from tests.controller.netconf.conftest import NC, NW, SVC, TOPO, Connect

TYPES = "urn:sdqn:sdqn-types"
REQUESTS = "/sdqn-services:entanglement-services/request"


def error_path(name: str, leaf: str | None = None) -> str:
    """A request's (or its leaf's) error-path as the XML reply carries it: an
    instance-identifier with every step prefixed (RFC 6241 §4.3, RFC 7950 §9.13)."""
    path = (f"/sdqn-services:entanglement-services/sdqn-services:request"
            f"[sdqn-services:name='{name}']")
    return path + (f"/sdqn-services:{leaf}" if leaf else "")


def request(name: str, source: str, destination: str, *, rate: str | None = "5.0",
            operation: str | None = None) -> str:
    op = f' xmlns:nc="{NC}" nc:operation="{operation}"' if operation else ""
    demanded = f"<demanded-rate>{rate}</demanded-rate>" if rate is not None else ""
    return (f"<request{op}><name>{name}</name><source-node>{source}</source-node>"
            f"<destination-node>{destination}</destination-node>"
            f'<application xmlns:t="{TYPES}">t:qkd</application>'
            f"<min-fidelity>0.9</min-fidelity>{demanded}</request>")


def services(*requests: str) -> str:
    return (f'<config xmlns="{NC}"><entanglement-services xmlns="{SVC}">'
            f'{"".join(requests)}</entanglement-services></config>')


def node(node_id: str) -> str:
    return (f'<config xmlns="{NC}"><networks xmlns="{NW}"><network>'
            f"<network-id>metro</network-id><node><node-id>{node_id}</node-id>"
            f'<quantum-node xmlns="{TOPO}"><device-kind xmlns:t="{TYPES}">t:end-node'
            "</device-kind></quantum-node></node></network></networks></config>")


def request_names(store: NmdaStore, ds: Datastore) -> list[str]:
    data = json.loads(store.get(ds, xpath=REQUESTS) or "{}")
    entries = data.get("sdqn-services:entanglement-services", {}).get("request", [])
    return sorted(entry["name"] for entry in entries)


def errors_of(exc: pytest.ExceptionInfo[RPCError]) -> list[tuple[str, str, str]]:
    """(error-tag, error-app-tag, error-path) of every rpc-error in the reply."""
    errs = getattr(exc.value, "errors", None) or [exc.value]
    return sorted((e.tag or "", e.app_tag or "", (e.path or "").strip()) for e in errs)


def test_request_before_its_node_commits(connect: Connect, store: NmdaStore) -> None:
    """RFC 7950 §8.3.3: a request may name a node that a later edit of the same
    candidate session adds; the whole is checked at commit."""
    mgr = connect()
    mgr.lock("candidate")
    mgr.edit_config(target="candidate", config=services(request("late", "zed", "alice")))
    assert "late" not in request_names(store, Datastore.RUNNING)
    with pytest.raises(RPCError) as exc:
        mgr.validate(source="candidate")
    assert errors_of(exc) == [("data-missing", "instance-required",
                               error_path("late", "source-node"))]
    mgr.edit_config(target="candidate", config=node("zed"))
    mgr.validate(source="candidate")
    mgr.commit()
    mgr.unlock("candidate")
    assert "late" in request_names(store, Datastore.RUNNING)
    assert store.forest(Datastore.RUNNING).find(
        "/ietf-network:networks/network[network-id='metro']/node[node-id='zed']")


def test_invalid_candidate_is_refused_at_validate_and_commit(connect: Connect,
                                                             store: NmdaStore) -> None:
    """Every violated constraint is reported, with its error-path and RFC 7950 §15
    error-app-tag; neither <validate> nor a refused <commit> changes anything."""
    mgr = connect()
    mgr.edit_config(target="candidate", config=services(
        request("ghost", "nowhere", "alice"),          # leafref to a missing node
        request("loop", "alice", "alice"),             # must: the ends differ
        request("short", "alice", "bob", rate=None)))  # mandatory demanded-rate
    running = store.get(Datastore.RUNNING)
    candidate = store.get(Datastore.CANDIDATE)
    expected = [
        ("data-missing", "", error_path("short", "demanded-rate")),
        ("data-missing", "instance-required", error_path("ghost", "source-node")),
        ("operation-failed", "must-violation",
         error_path("loop", "destination-node")),
    ]
    with pytest.raises(RPCError) as exc:
        mgr.validate(source="candidate")
    assert errors_of(exc) == expected
    assert store.get(Datastore.CANDIDATE) == candidate
    for confirmed in (False, True):
        with pytest.raises(RPCError) as exc:
            mgr.commit(confirmed=confirmed)
        assert errors_of(exc) == expected
        assert store.get(Datastore.RUNNING) == running
        assert store.get(Datastore.INTENDED) == running
        assert store.get(Datastore.CANDIDATE) == candidate
    assert not store.confirm_pending
    # fixing the candidate makes it committable
    mgr.edit_config(target="candidate", config=services(
        request("ghost", "", "", operation="delete"), request("loop", "", "",
                                                              operation="delete"),
        "<request><name>short</name><demanded-rate>2.0</demanded-rate></request>"))
    mgr.commit()
    assert "short" in request_names(store, Datastore.RUNNING)


def test_syntax_is_still_checked_at_candidate_edit(connect: Connect,
                                                   store: NmdaStore) -> None:
    """RFC 6241 §7.2: a bad value or an unknown element is refused by the edit itself."""
    mgr = connect()
    candidate = store.get(Datastore.CANDIDATE)
    bad_rate = services(request("r", "alice", "bob", rate="fast"))
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="candidate", config=bad_rate)
    assert exc.value.tag == "invalid-value"
    unknown = services("<request><name>r</name><colour>red</colour></request>")
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="candidate", config=unknown)
    assert exc.value.tag == "unknown-element"
    assert store.get(Datastore.CANDIDATE) == candidate and not store.candidate_dirty


def test_running_is_still_checked_at_edit(connect: Connect, store: NmdaStore) -> None:
    """:writable-running (RFC 6241 §8.2): an edit of running is validated as a whole
    before it applies."""
    mgr = connect()
    running = store.get(Datastore.RUNNING)
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=services(request("late", "zed", "alice")))
    assert errors_of(exc) == [("data-missing", "instance-required",
                               error_path("late", "source-node"))]
    assert store.get(Datastore.RUNNING) == running


def test_delete_config_of_candidate_is_refused(connect: Connect, store: NmdaStore) -> None:
    """ietf-netconf's delete-config target is startup or url (RFC 6241 §7.4)."""
    mgr = connect()
    mgr.edit_config(target="candidate", config=services(request("kept", "alice", "bob")))
    candidate = store.get(Datastore.CANDIDATE)
    for target in ("candidate", "running"):
        with pytest.raises(RPCError) as exc:
            mgr.delete_config(target=target)
        assert exc.value.tag == "operation-not-supported"
        assert target in exc.value.message
        assert exc.value.info and target in exc.value.info
    assert store.get(Datastore.CANDIDATE) == candidate and store.candidate_dirty
    mgr.delete_config(target="startup")


@pytest.mark.parametrize("target", ["running", "candidate"])
def test_duplicate_list_entry_in_one_edit_is_refused(connect: Connect, store: NmdaStore,
                                                     target: str) -> None:
    mgr = connect()
    before = {ds: store.get(ds) for ds in (Datastore.RUNNING, Datastore.CANDIDATE)}
    twice = services(request("dup", "alice", "bob"), request("dup", "bob", "charlie"))
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target=target, config=twice)
    assert errors_of(exc) == [("operation-failed", "", error_path("dup"))]
    created_twice = services(request("dup", "alice", "bob", operation="create"),
                             request("dup", "alice", "bob", operation="create"))
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target=target, config=created_twice)
    assert errors_of(exc) == [("data-exists", "", error_path("dup"))]
    leaf_twice = services("<request><name>qkd-alice-bob</name><weight>2</weight>"
                          "<weight>3</weight></request>")
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target=target, config=leaf_twice)
    assert errors_of(exc) == [("operation-failed", "",
                               error_path("qkd-alice-bob", "weight"))]
    assert {ds: store.get(ds) for ds in before} == before
    assert not store.candidate_dirty


@pytest.mark.timeout(120)
def test_netconf_console2_adds_a_request_before_its_node(server: NetconfServer,
                                                         store: NmdaStore,
                                                         tmp_path: Path) -> None:
    """A third-party client: each step is its own session on the shared candidate."""
    def console(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "netconf-console2"), "--host", "127.0.0.1",
             "--port", str(server.port), "-u", "admin", "-p", "admin", *args],
            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)

    def body(config: str) -> Path:
        path = tmp_path / f"edit{len(list(tmp_path.iterdir()))}.xml"
        root = etree.fromstring(config)
        path.write_text("".join(etree.tostring(c, encoding="unicode") for c in root))
        return path

    step = console("--db", "candidate", "--edit-config",
                   str(body(services(request("late", "zed", "alice")))))
    assert "<ok" in step.stdout, step.stdout + step.stderr
    step = console("--validate", "candidate")
    assert "instance-required" in step.stdout, step.stdout + step.stderr
    assert error_path("late", "source-node") in step.stdout
    step = console("--db", "candidate", "--edit-config", str(body(node("zed"))))
    assert "<ok" in step.stdout, step.stdout + step.stderr
    step = console("--commit")
    assert "<ok" in step.stdout, step.stdout + step.stderr
    assert "late" in request_names(store, Datastore.RUNNING)


@pytest.mark.parametrize("target", ["running", "candidate", "startup"])
def test_duplicate_list_entry_in_copied_content_is_refused(connect: Connect, store: NmdaStore,
                                                           target: str) -> None:
    """copy-config's inline <config> is one edit of the whole datastore: a list entry
    twice in it is as ambiguous as in edit-config (RFC 7950 §7.8.2 keys are unique)."""
    mgr = connect()
    before = {ds: store.get(ds) for ds in (Datastore.RUNNING, Datastore.CANDIDATE,
                                           Datastore.STARTUP)}
    twice = services(request("dup", "alice", "bob"), request("dup", "bob", "charlie"))
    rpc = etree.fromstring(f'<copy-config xmlns="{NC}"><target><{target}/></target>'
                           f"<source>{twice}</source></copy-config>")
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(rpc)
    tag, _, path = errors_of(exc)[0]
    assert tag in ("operation-failed", "data-exists") and path == error_path("dup")
    assert {ds: store.get(ds) for ds in before} == before
