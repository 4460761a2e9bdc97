"""End to end over NETCONF (ncclient): slices are configured in running, and each bad
slicing input is refused with the offending leaf as error-path while running, intended
and the devices stay as they were (RFC 6241 Appendix A: invalid-value for an
unacceptable value, with error-path)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient.operations import RPCError

from controller.datastore.schema import Schema
from controller.settings import PRODUCT_MODULES
from tests.controller.e2e import (
    Daemon,
    convert,
    datastores,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    write_config,
)

SLICES_NS = "urn:sdqn:sdqn-slices"
SVC = "urn:sdqn:sdqn-services"
FIXTURE = Path(__file__).resolve().parents[1] / "yang" / "instances" / "sdqn-slices.json"
Doc = dict[str, Any]


def _slice(d: Doc, name: str) -> Doc:
    entry: Doc = next(s for s in d["sdqn-slices:slicing"]["slice"] if s["name"] == name)
    return entry


def _request(d: Doc, name: str) -> Doc:
    entry: Doc = next(r for r in d["sdqn-services:entanglement-services"]["request"]
                      if r["name"] == name)
    return entry


def _node(d: Doc, slice_name: str, node: str) -> Doc:
    entry: Doc = next(n for n in _slice(d, slice_name)["reservation"]["node"]
                      if n["node-id"] == node)
    return entry


def _link(d: Doc, slice_name: str, link: str) -> Doc:
    entry: Doc = next(n for n in _slice(d, slice_name)["reservation"]["link"]
                      if n["link-id"] == link)
    return entry


GOLD = "/sdqn-slices:slicing/slice[name='qkd-gold']"
BACKUP = "/sdqn-slices:slicing/slice[name='backup']"
RESEARCH = "/sdqn-slices:slicing/slice[name='research']"
REQ = "/sdqn-services:entanglement-services/request"

#: case -> (mutation of the valid fixture, words of the error-path, words of the message)
CASES: dict[str, tuple[Callable[[Doc], None], tuple[str, ...], tuple[str, ...]]] = {
    "unknown-reserved-node": (
        lambda d: _slice(d, "qkd-gold")["reservation"]["node"].append(
            {"node-id": "eve", "memory-qubits": 1}),
        ("slice[name='qkd-gold']", "node[node-id='eve']", "node-id"), ("eve",)),
    "memory-over-subscribed": (
        lambda d: _node(d, "backup", "r1").update({"memory-qubits": 15}),
        (f"{BACKUP}/reservation/node[node-id='r1']/memory-qubits",),
        ("node 'r1'", "3 more than its memory-qubits 20")),
    "time-over-subscribed": (
        lambda d: _link(d, "backup", "r1-r2").update({"time-share": "0.4"}),
        (f"{BACKUP}/reservation/link[link-id='r1-r2']/time-share",),
        ("link 'r1-r2'", "0.1 more than 1")),
    "too-many-requests": (
        lambda d: _slice(d, "research")["quota"].update({"max-requests": 1}),
        (f"{REQ}[name='dqs-alice-dave']/sdqn-slices:slice",),
        ("request 'dqs-alice-dave'", "slice 'research'", "max-requests 1")),
    "rate-over-quota": (
        lambda d: _slice(d, "qkd-gold")["quota"].update({"max-rate": "99.5"}),
        (f"{REQ}[name='qkd-alice-bob']/sdqn-slices:slice",),
        ("request 'qkd-alice-bob'", "slice 'qkd-gold'", "0.5 more than max-rate 99.5")),
    "guarantee-impossible": (   # Q-NUM proves no plan meets it: refused at commit
        lambda d: _slice(d, "research")["slo"].update({"aggregate-rate": "1000000.0"}),
        ("slice[name='research']",), ("guarantees cannot all hold", "research")),
    "reservation-on-shared-slice": (
        lambda d: _slice(d, "research").update(
            {"reservation": {"node": [{"node-id": "r3", "memory-qubits": 2}]}}),
        ("slice[name='research']", "reservation", "node"),
        ("Only a dedicated slice reserves node memory",)),
}


def _bare(path: str) -> str:
    """An instance path without module prefixes (values here hold no colon)."""
    return re.sub(r"[A-Za-z][\w.-]*:", "", path)


def _xml(doc: Doc) -> str:
    return convert(Schema(list(PRODUCT_MODULES)).ctx, json.dumps(doc), "json", "xml")


def _state(daemon: Daemon) -> dict[str, bytes]:
    """Services and device configurations (running, intended) and running's slicing."""
    slicing = daemon.get_data("running", "/sl:slicing", {"sl": SLICES_NS})
    return {**datastores(daemon), "slicing": etree.tostring(slicing, method="c14n")}


def test_slices_commit_and_bad_slicing_is_refused_naming_the_leaf(tmp_path: Path) -> None:
    fixture: Doc = json.loads(FIXTURE.read_text())
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "slices"), tmp_path / "daemon.log") as daemon:
        edit_running(daemon, intent_xml(net))
        edit_running(daemon, _xml(fixture))
        committed = daemon.get_data("running", "/sl:slicing", {"sl": SLICES_NS})
        names = [e.text for e in committed.iter(f"{{{SLICES_NS}}}name")]
        assert {"qkd-operator", "research", "qkd-gold", "backup"} <= set(names)
        # qkd-gold guarantees 50 pairs/s to each member: Q-NUM admitted its member at that
        state = daemon.get_data("operational", "/svc:entanglement-services/svc:request"
                                "[svc:name='qkd-alice-bob']/svc:state", {"svc": SVC})
        assert state.findtext(f".//{{{SVC}}}admission") == "admitted"
        assert float(state.findtext(f".//{{{SVC}}}predicted-rate") or 0) >= 50.0

        for case, (mutate, path_words, message_words) in sorted(CASES.items()):
            before, devices_before = _state(daemon), device_configs(net)
            bad = copy.deepcopy(fixture)
            mutate(bad)
            with pytest.raises(RPCError) as refused:
                edit_running(daemon, _xml(bad))
            error = refused.value
            assert error.path is not None, case
            for word in path_words:  # the server qualifies every step with its module
                assert _bare(word) in _bare(error.path), (case, error.path)
            for word in message_words:
                assert word in str(error.message), (case, error.message)
            assert error.tag in {"invalid-value", "data-missing", "operation-failed"}, case
            assert _state(daemon) == before, case
            assert device_configs(net) == devices_before, case
        # the daemon keeps serving: a valid change still commits
        fine = copy.deepcopy(fixture)
        _slice(fine, "research")["quota"]["max-requests"] = 2
        edit_running(daemon, _xml(fine))
