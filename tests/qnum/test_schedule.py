"""Schedules: disjoint TDMA slots, shared slots along transparent links, qubits, channels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qnum.instances import request, small_network
from qnum.io import DeviceKind, QRoadm, load_requests, load_topology
from qnum.plan import Assignment, Plan, Problem
from qnum.schedule import ScheduleError, ScheduleOptions, build_schedule
from qnum.solver import solve

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def metro() -> tuple[Problem, Plan, dict[str, Any]]:
    net = load_topology(DATA / "metro.json")
    pb = Problem.build(net, load_requests(DATA / "requests.json", net))
    plan = solve(pb)
    return pb, plan, build_schedule(net, plan, ScheduleOptions(frame_slots=200))


def test_link_slots_are_disjoint_and_cover_each_share(
    metro: tuple[Problem, Plan, dict[str, Any]],
) -> None:
    _, plan, sched = metro
    assert sched["frame"]["slots"] == 200
    for lk, entry in sched["links"].items():
        seen: set[int] = set()
        for alloc in entry["allocations"]:
            assert seen.isdisjoint(alloc["slots"]), lk
            seen.update(alloc["slots"])
            a = plan.assignments[alloc["flow"]]
            assert a.candidate is not None
            assert a.candidate.min_share - 1e-9 <= alloc["share"] <= a.share + 1e-9
            assert alloc["share"] == len(alloc["slots"]) / 200
        assert entry["idle-share"] >= -1e-12
    # alice–roadm1–r2 is one elementary link: identical slots on both fibres.
    qkd = plan.assignments["qkd-alice-bob"]
    tele = plan.assignments["tele-dave-carol"]
    transparent = [a for a in (qkd, tele) if a.candidate and "roadm1" in a.candidate.route.nodes]
    assert transparent
    for a in transparent:
        assert a.candidate is not None
        seg = next(s for s in a.candidate.route.segments if "roadm1" in s.nodes)
        slot_sets = {
            tuple(x["slots"])
            for lk in seg.links
            for x in sched["links"][lk]["allocations"]
            if x["flow"] == a.request.name
        }
        assert len(slot_sets) == 1


def test_devices_get_qubits_roles_and_cross_connects(
    metro: tuple[Problem, Plan, dict[str, Any]],
) -> None:
    pb, plan, sched = metro
    for node, dev in sched["devices"].items():
        if dev["device-kind"] == "q-roadm":
            channels = [x["channel"] for x in dev["cross-connects"]]
            assert len(channels) == len(set(channels))
            continue
        qubits = [q for flow in dev["flows"] for q in flow["qubits"]]
        assert len(qubits) == len(set(qubits)) and max(qubits) < pb.memory_capacity(node)
    tele = plan.assignments["tele-dave-carol"].candidate
    assert tele is not None
    dave = sched["devices"]["dave"]["flows"][0]
    assert dave["role"] == "source" and dave["peer"] == "carol"
    assert dave["purification-rounds"] == tele.purification_rounds
    assert dave["cutoff"] == tele.cutoff_s
    xc = sched["devices"]["roadm1"]["cross-connects"]
    assert {"flow": "tele-dave-carol", "in-link": "dave-roadm1", "out-link": "roadm1-r2",
            "channel": xc[0]["channel"], "add-drop-ports": 2} in xc  # fmt: skip
    repeaters = [f for f in sched["devices"]["r2"]["flows"] if f["flow"] == "tele-dave-carol"]
    assert repeaters[0]["swap-order"] == 1 and repeaters[0]["role"] == "repeater"


def test_heralding_latency_beyond_t_ent_is_refused() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": DeviceKind.END_NODE,
                                                   "B": DeviceKind.END_NODE})  # fmt: skip
    pb = Problem.build(net, [request("t", "A", "B")])
    plan = solve(pb)
    a = plan.assignments["t"]
    assert a.candidate is not None
    broken = replace(a.candidate, t_ent_s=1e-6)  # 20 km heralds after 100 µs
    bad = Plan("qnum", {"t": Assignment(a.request, broken, a.share)})
    with pytest.raises(ScheduleError, match="heralding latency"):
        build_schedule(net, bad)


def test_wavelength_continuity_is_guaranteed_per_island() -> None:
    # Three lightpaths around a triangle of 2-channel q-ROADMs: every q-ROADM would carry
    # two, so per-node channel counts fit, but the triangle needs three colours.
    end, roadm = DeviceKind.END_NODE, DeviceKind.Q_ROADM
    edges = [("A", "X", 5.0), ("B", "Y", 5.0), ("C", "Z", 5.0)]
    edges += [("X", "Y", 5.0), ("Y", "Z", 5.0), ("Z", "X", 5.0)]
    net = small_network(
        edges,
        kinds={"A": end, "B": end, "C": end, "X": roadm, "Y": roadm, "Z": roadm},
        roadm=QRoadm(degrees=4, add_drop_ports=8, wavelength_channels=2),
    )
    reqs = [request("ab", "A", "B"), request("bc", "B", "C"), request("ca", "C", "A")]
    pb = Problem.build(net, reqs)
    plan = solve(pb)
    assert len(plan.admitted) == 2  # the island's 2 channels
    rejected = next(a for a in plan.assignments.values() if not a.admitted)
    assert "island:X has no free wavelength channel" in (rejected.reason or "")
    sched = build_schedule(net, plan)
    # The three requests are symmetric, so which one is rejected is a tie; the q-ROADM both
    # admitted lightpaths cross (Y when "ca" is rejected) must give them distinct channels.
    inner = [set(a.candidate.route.nodes[1:-1]) for a in plan.admitted if a.candidate]
    (shared,) = set.intersection(*inner)
    assert len({x["channel"] for x in sched["devices"][shared]["cross-connects"]}) == 2
    # Forcing the third lightpath in is refused by the scheduler, not silently accepted.
    forced = {r.name: Assignment(r, pb.options(r.name)[0], 0.3) for r in reqs}
    with pytest.raises(ScheduleError, match="wavelength channel"):
        build_schedule(net, Plan("forced", forced))
