"""End to end over NETCONF (ncclient): after a commit with dedicated slices, the emulated
devices' running configurations (read over their own NETCONF sessions) carry each slice's
partition — disjoint registers, its fibre shares, its members placed in it — and the
slice's owned-resource state in <operational> lists exactly those resources."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from ncclient import manager

from controller.datastore.schema import Schema
from controller.settings import PRODUCT_MODULES
from simulators.launcher import Network
from tests.controller.e2e import (
    Daemon,
    convert,
    edit_running,
    emulated_network,
    intent_xml,
    write_config,
)

SLICES_NS = "urn:sdqn:sdqn-slices"
REP_NS, END_NS = "urn:sdqn:sdqn-repeater", "urn:sdqn:sdqn-end-node"
FIXTURE = Path(__file__).resolve().parents[1] / "yang" / "instances" / "sdqn-slices.json"
#: (slice, device, kind, resource) → (registers, amount)
Owned = dict[tuple[str, str, str, str], tuple[tuple[int, ...], Decimal]]


def _device_running(net: Network, node: str) -> etree._Element:
    """The device's running configuration over its own NETCONF server (RFC 6241 §7.1)."""
    with manager.connect_ssh(host="127.0.0.1", port=net.devices[node].port,
                             username="admin", password="admin", hostkey_verify=False,
                             look_for_keys=False, allow_agent=False, timeout=30) as m:
        return etree.fromstring(m.get_config(source="running").data_xml.encode())


def _partitions(net: Network) -> tuple[Owned, dict[str, dict[str, str]]]:
    """What the devices enforce: their slice partitions, and per device the slice each
    flow or endpoint is placed in."""
    owned: Owned = {}
    placed: dict[str, dict[str, str]] = {}
    for node, device in sorted(net.devices.items()):
        if device.kind not in ("repeater", "end-node"):
            continue
        ns = REP_NS if device.kind == "repeater" else END_NS
        q = f"{{{ns}}}"
        config = _device_running(net, node)
        registers_seen: set[int] = set()
        for part in config.iter(f"{q}slice-partition"):
            name = part.findtext(f"{q}slice") or ""
            registers = tuple(sorted(int(r.text or "") for r in part.findall(f"{q}register")))
            assert not registers_seen & set(registers), (node, "registers overlap")
            registers_seen |= set(registers)
            if registers:
                owned[(name, node, "memory-registers", "registers")] = (
                    registers, Decimal(len(registers)))
            for share in part.findall(f"{q}link-share"):
                link = share.findtext(f"{q}link-id") or ""
                owned[(name, node, "link-time-share", link)] = (
                    (), Decimal(share.findtext(f"{q}time-share") or ""))
        for tag, key in (("flow", "flow-id"), ("application-endpoint", "name")):
            for entry in config.iter(f"{q}{tag}"):
                sl = entry.findtext(f"{q}slice")
                if sl is not None:
                    placed.setdefault(node, {})[entry.findtext(f"{q}{key}") or ""] = sl
    return owned, placed


def _state_owned(daemon: Daemon) -> Owned:
    data = daemon.get_data("operational", "/sl:slicing", {"sl": SLICES_NS})
    q = f"{{{SLICES_NS}}}"
    owned: Owned = {}
    for sl in data.iter(f"{q}slice"):
        for res in sl.iter(f"{q}owned-resource"):
            owned[(sl.findtext(f"{q}name") or "", res.findtext(f"{q}device") or "",
                   res.findtext(f"{q}kind") or "", res.findtext(f"{q}resource") or "")] = (
                tuple(sorted(int(r.text or "") for r in res.findall(f"{q}register"))),
                Decimal(res.findtext(f"{q}amount") or ""))
    return owned


def _xml(doc: dict[str, Any]) -> str:
    return convert(Schema(list(PRODUCT_MODULES)).ctx, json.dumps(doc), "json", "xml")


def test_devices_carry_the_partitions_the_slice_state_reports(tmp_path: Path) -> None:
    fixture = json.loads(FIXTURE.read_text())
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "partitions"), tmp_path / "daemon.log") as daemon:
        edit_running(daemon, intent_xml(net))
        edit_running(daemon, _xml(fixture))
        on_devices, placed = _partitions(net)
        # qkd-gold (dedicated) reserves memory on alice, r1, bob; backup 12 registers of r1
        slices = {key[0] for key in on_devices}
        assert slices == {"qkd-gold", "backup"}          # the shared slice has no partition
        assert on_devices[("backup", "r1", "memory-registers", "registers")][1] == 12
        gold_r1 = on_devices[("qkd-gold", "r1", "memory-registers", "registers")][0]
        backup_r1 = on_devices[("backup", "r1", "memory-registers", "registers")][0]
        assert not set(gold_r1) & set(backup_r1)
        # packed from register 0 in slice-name order: backup, then qkd-gold
        assert backup_r1 == tuple(range(12))
        assert gold_r1[0] == 12
        assert ("qkd-gold", "r1", "link-time-share", "r1-r2") in on_devices
        assert ("backup", "r1", "link-time-share", "r1-r2") in on_devices
        # the member is placed in its slice's partition wherever the slice has one
        for node in ("alice", "r1", "bob"):
            assert placed[node]["qkd-alice-bob"] == "qkd-gold", node
        # the slice state reports exactly what the devices enforce
        assert _state_owned(daemon) == on_devices
