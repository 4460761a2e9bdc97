"""Every fault shows in operational state and as a notification, over real NETCONF."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import paramiko
import pytest
from ncclient.operations import RPCError
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.transport.errors import SSHError, TransportError
from typer.testing import CliRunner

from controller.cli import app
from simulators.clock import ManualClock
from simulators.devices.apc import CALIBRATION_DURATION
from simulators.devices.memory import PROBE_PERIOD_S
from simulators.faults import FaultError, FaultKind, FaultRequest, send
from simulators.launcher import Network
from tests.simulators.conftest import (
    APC,
    END,
    REP,
    Connect,
    advance,
    find_text,
    get_data,
    has,
    wait_notification,
)

pytestmark = pytest.mark.timeout(60)

NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


def fault(network: Network, kind: str, target: str, **kw: object) -> str:
    return network.faults.apply(FaultRequest.model_validate({"kind": kind, "target": target,
                                                             **kw}))


def generate_on(connect: Connect, node: str, link: str, neighbour: str) -> None:
    m = connect(node)
    m.edit_config(target="running", config=(
        '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<repeater xmlns="{REP}"><link-generation><link><link-id>{link}</link-id>'
        f"<neighbour>{neighbour}</neighbour><attempt-rate>1000000</attempt-rate></link>"
        "</link-generation></repeater></config>"))


def test_fibre_cut_and_repair(network: Network, connect: Connect, clock: ManualClock) -> None:
    generate_on(connect, "r1", "r1-r2", "r2")
    advance(network, clock, CALIBRATION_DURATION + 5, step=5)
    r1, apc = connect("r1"), connect("apc-1")
    r1.create_subscription()
    apc.create_subscription()
    assert fault(network, "fibre-cut", "r1-r2") == "fibre r1-r2 cut"
    note = wait_notification(r1, has("status-change", REP, "fibre cut on r1-r2"))
    assert "degraded" in note.findtext(f".//{{{REP}}}oper-status", "")
    wait_notification(apc, has("reason", APC, "loss of signal on r1-r2"))
    advance(network, clock, 2)
    oper = get_data(r1)
    assert find_text(oper, "status/oper-status", REP) == "sdqn-types:degraded"
    assert float(find_text(oper, "link/state/generation-rate", REP) or 1) == 0.0
    assert find_text(get_data(apc), "apc/status/oper-status", APC) == "sdqn-types:down"
    assert ("fibre-cut", "r1-r2") in network.faults.active
    fault(network, "fibre-cut", "r1-r2", clear=True)
    wait_notification(r1, has("oper-status", REP, "sdqn-types:up"))
    advance(network, clock, 2)
    assert float(find_text(get_data(r1), "link/state/generation-rate", REP) or 0) > 0
    assert network.faults.active == {}


def test_crash_stops_the_server_and_restart_brings_it_back(
        network: Network, connect: Connect, clock: ManualClock) -> None:
    generate_on(connect, "r1", "r1-r2", "r2")
    r1 = connect("r1")
    r1.create_subscription()
    port = network.devices["r2"].port
    fault(network, "crash", "r2", duration=0.5)  # ManualClock: 1 simulated s = 1 wall s
    wait_notification(r1, has("reason", REP, "r2 unreachable"))
    with pytest.raises((SSHError, OSError, paramiko.SSHException)):
        connect("r2")
    assert find_text(get_data(r1), "status/oper-status", REP) == "sdqn-types:degraded"
    deadline = time.monotonic() + 10
    while network.devices["r2"].crashed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not network.devices["r2"].crashed and network.devices["r2"].port == port
    r2 = connect("r2")
    assert find_text(get_data(r2), "status/oper-status", REP) is not None
    assert any("restarted" in n.content.get("reason", "")
               for n in network.devices["r2"].history if n.name == "status-change")
    wait_notification(r1, has("oper-status", REP, "sdqn-types:up"))


def test_restart_restarts_the_source_warm_up(network: Network, connect: Connect,
                                             clock: ManualClock) -> None:
    alice = connect("alice")
    alice.edit_config(target="running", config=(
        '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<end-node xmlns="{END}"><source><pump-enabled>true</pump-enabled>'
        "<warm-up-duration>5</warm-up-duration></source></end-node></config>"))
    advance(network, clock, 40, step=5)
    assert find_text(get_data(alice), "source/state/source-state", END) == "stable"
    alice.copy_config(source="running", target="startup")    # saved: the boot loads it
    assert "restarted on port" in fault(network, "restart", "alice")
    fresh = connect("alice")
    assert find_text(get_data(fresh), "source/state/source-state", END) == "warming-up"
    assert find_text(get_data(fresh), "end-node/source/pump-enabled", END) == "true"


def test_a_reboot_loads_startup_or_the_factory_configuration(
        network: Network, connect: Connect, clock: ManualClock) -> None:
    """RFC 6241 §8.7: the device advertises :startup, so a reboot runs what was saved
    there; nothing saved: the factory configuration. Its boot-datetime says it rebooted."""
    generate_on(connect, "r1", "r1-r2", "r2")
    booted = find_text(get_data(connect("r1")), "status/boot-datetime", REP)
    advance(network, clock, 10)
    fault(network, "restart", "r1")
    r1 = connect("r1")
    state = get_data(r1)
    assert booted is not None
    assert (find_text(state, "status/boot-datetime", REP) or "") > booted
    running = get_data(r1, "running")
    assert find_text(running, "repeater/node-id", REP) == "r1"          # factory identity
    assert find_text(running, "repeater/link-generation/link/link-id", REP) is None


def test_session_loss_drops_the_management_plane_only(
        network: Network, connect: Connect, clock: ManualClock) -> None:
    generate_on(connect, "r1", "r1-r2", "r2")
    r2 = connect("r2")
    r1 = connect("r1")
    r1.create_subscription()
    advance(network, clock, 5)
    booted = find_text(get_data(r2), "status/boot-datetime", REP)
    assert "sessions lost" in fault(network, "session-loss", "r2")
    with pytest.raises((SSHError, OSError, paramiko.SSHException)):
        connect("r2")
    with pytest.raises(TransportError):     # the open session is gone too
        r2.get_config("running")
    advance(network, clock, 5)
    assert not network.devices["r2"].crashed
    assert find_text(get_data(r1), "link/state/oper-status", REP) == "up"   # data plane
    assert ("session-loss", "r2") in network.faults.active
    fault(network, "session-loss", "r2", clear=True)
    again = connect("r2")
    assert find_text(get_data(again), "status/boot-datetime", REP) == booted  # no reboot
    assert network.faults.active == {}


def test_drift_surge_puts_the_apc_out_of_spec(network: Network, connect: Connect,
                                              clock: ManualClock) -> None:
    advance(network, clock, CALIBRATION_DURATION + 5, step=5)
    m = connect("apc-2")
    m.create_subscription()
    base = float(find_text(get_data(m), "state/polarisation-drift-rate", APC) or 0)
    fault(network, "drift-surge", "apc-2", factor=50)
    surged = float(find_text(get_data(m), "state/polarisation-drift-rate", APC) or 0)
    assert surged == pytest.approx(50 * base, rel=0.1)
    advance(network, clock, 600, step=10)
    note = wait_notification(m, has("out-of-spec", APC))
    assert note.findtext(f".//{{{APC}}}severity") == "major"
    oper = get_data(m)
    assert find_text(oper, "state/spec-status", APC) == "out-of-spec"
    assert float(find_text(oper, "state/misalignment-error", APC) or 0) > 0.002
    fault(network, "drift-surge", "apc-2", clear=True)
    assert network.devices["apc-2"].model.surge == 1.0  # type: ignore[attr-defined]


def test_a_failed_apc_actuator_misaligns_its_fibre_until_repaired(
        network: Network, connect: Connect, clock: ManualClock) -> None:
    advance(network, clock, CALIBRATION_DURATION + 5, step=5)
    m = connect("apc-2")
    m.create_subscription()
    before = get_data(m)
    assert find_text(before, "state/spec-status", APC) == "in-spec"
    rate = find_text(before, "state/polarisation-drift-rate", APC)
    assert fault(network, "apc-out-of-spec", "apc-2", offset=0.5) == \
        "apc-2 actuator stuck 0.5 rad off"
    note = wait_notification(m, has("out-of-spec", APC))
    assert note.findtext(f".//{{{APC}}}severity") == "major"
    oper = get_data(m)
    assert find_text(oper, "state/spec-status", APC) == "out-of-spec"
    assert find_text(oper, "state/polarisation-drift-rate", APC) == rate   # no drift surge
    theta = float(find_text(oper, "state/tracking-error", APC) or 0)
    assert theta >= 0.5 and network.world.misalignment["qr1-r2"] == pytest.approx(theta)
    assert float(find_text(oper, "state/misalignment-error", APC) or 0) == pytest.approx(
        math.sin(theta / 2) ** 2, abs=1e-6)
    model = network.devices["apc-2"].model
    assert model.calibrate(clock.now(), force=True)[0] == "started"  # type: ignore[attr-defined]
    advance(network, clock, CALIBRATION_DURATION + 2, step=2)
    done = wait_notification(m, has("calibration-complete", APC))
    assert done.findtext(f".//{{{APC}}}success") == "false"      # it cannot converge
    assert find_text(get_data(m), "state/spec-status", APC) == "out-of-spec"
    assert fault(network, "apc-out-of-spec", "apc-2", clear=True) == "apc-2 actuator repaired"
    wait_notification(m, has("out-of-spec", APC, "cleared"))
    assert find_text(get_data(m), "state/spec-status", APC) == "in-spec"
    assert network.faults.active == {}
    with pytest.raises(FaultError, match="not an APC"):
        fault(network, "apc-out-of-spec", "r1")


def test_detector_failure(network: Network, connect: Connect) -> None:
    m = connect("charlie")
    m.create_subscription()
    fault(network, "detector-failure", "charlie", detector="d2")
    note = wait_notification(m, has("detector-alarm", END))
    assert note.findtext(f".//{{{END}}}severity") == "critical"
    assert note.findtext(f".//{{{END}}}detector-id") == "d2"
    oper = get_data(m)
    states = {d.findtext(f"{{{END}}}detector-id"): d.findtext(f".//{{{END}}}oper-status")
              for d in oper.iter(f"{{{END}}}detector")}
    assert states == {"d1": "sdqn-types:up", "d2": "sdqn-types:down"}
    fault(network, "detector-failure", "charlie", detector="d2", clear=True)
    note = wait_notification(m, has("detector-alarm", END))
    assert note.findtext(f".//{{{END}}}severity") == "cleared"


def test_memory_degradation_shows_in_the_measured_coherence_time(
        network: Network, connect: Connect, clock: ManualClock) -> None:
    """The repeater reports what its T2 probe measures: the rated 5 s, a tenth of it
    while degraded (the default factor), the rated value again once repaired."""
    r1 = connect("r1")

    def measured() -> float:
        advance(network, clock, PROBE_PERIOD_S, step=PROBE_PERIOD_S)
        oper = get_data(r1)
        assert find_text(oper, "memory/coherence-last-measured", REP) is not None
        return float(find_text(oper, "memory/measured-coherence-time", REP) or "nan")

    assert measured() == pytest.approx(5.0, rel=0.25)
    assert fault(network, "memory-degradation", "r1") == "r1 memory coherence time /10"
    assert network.world.coherence_time("r1") == pytest.approx(0.5)
    assert measured() == pytest.approx(0.5, rel=0.25)
    assert fault(network, "memory-degradation", "r1", factor=100) == (
        "r1 memory coherence time /100")
    assert measured() == pytest.approx(0.05, rel=0.25)
    assert ("memory-degradation", "r1") in network.faults.active
    fault(network, "memory-degradation", "r1", clear=True)
    assert network.world.coherence_time("r1") == 5.0
    assert measured() == pytest.approx(5.0, rel=0.25)
    assert network.faults.active == {}


def test_out_of_band_edit(network: Network, connect: Connect) -> None:
    m = connect("apc-3")
    m.create_subscription()
    fault(network, "oob-edit", "apc-3")
    note = wait_notification(m, has("netconf-config-change", NCN))
    assert note.find(f".//{{{NCN}}}changed-by/{{{NCN}}}server") is not None
    running = get_data(m, "running")
    assert find_text(running, "apc/calibration-interval", APC) == "1800.0"
    with pytest.raises(FaultError, match="rejected"):
        fault(network, "oob-edit", "apc-3", data={"sdqn-apc:apc": {"tracking-tolerance": "9"}})


def test_stall_holds_the_named_rpcs_then_runs_them(network: Network,
                                                   connect: Connect) -> None:
    """A stalled lock is still granted after the client gave up: the stall models a busy
    device, not a lost request."""
    fault(network, "stall", "r1", seconds=30, operations=["lock"])
    m = connect("r1")
    assert m.get_config("running") is not None          # not a held rpc: answered at once
    m.timeout = 0.5
    with pytest.raises(TimeoutExpiredError):
        m.lock("candidate")
    stall = network.devices["r1"].stalled
    assert stall is not None and stall.held == 1
    fault(network, "stall", "r1", clear=True)           # the held lock runs now
    locks = network.devices["r1"].store.locks
    deadline = time.monotonic() + 5
    while locks.holder("candidate") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert locks.holder("candidate") == int(m.session_id)
    other = connect("r1")
    with pytest.raises(RPCError, match="already locked"):
        other.lock("candidate")
    m.timeout = 10
    m.unlock("candidate")
    other.lock("candidate")


def test_stall_of_confirming_commits_only(network: Network, connect: Connect) -> None:
    fault(network, "stall", "apc-3", seconds=30, operations=["confirming-commit"])
    m = connect("apc-3")
    m.timeout = 2
    m.commit(confirmed=True, timeout="60", persist="tx-1")   # starts: not held
    m.timeout = 0.5
    with pytest.raises(TimeoutExpiredError):
        m.commit(persist_id="tx-1")                         # confirming: held
    fault(network, "stall", "apc-3", clear=True)


def test_fault_errors(network: Network) -> None:
    with pytest.raises(FaultError, match="no fibre"):
        fault(network, "fibre-cut", "nowhere")
    with pytest.raises(FaultError, match="not an APC"):
        fault(network, "drift-surge", "r1")
    with pytest.raises(FaultError, match="not an end node"):
        fault(network, "detector-failure", "qr1")
    with pytest.raises(FaultError, match="no quantum memory"):
        fault(network, "memory-degradation", "qr1")
    with pytest.raises(FaultError, match="no emulated device"):
        fault(network, "crash", "zed")
    with pytest.raises(FaultError, match="not an rpc"):
        fault(network, "stall", "r1", operations=["reboot"])


def test_control_channel_and_cli(network: Network, tmp_path: Path) -> None:
    control = network.control
    assert control is not None
    assert send(control.host, control.port, "wrong", {"op": "status"}) == {
        "ok": False, "error": "bad token"}
    status = send(control.host, control.port, control.token, {"op": "status"})
    assert status["ok"] and {row["node-id"] for row in status["result"]} == set(
        network.devices)
    answer = send(control.host, control.port, control.token,
                  {"op": "fault", "fault": {"kind": "teleport", "target": "r1"}})
    assert not answer["ok"] and "kind" in answer["error"]
    inventory = tmp_path / "inventory.json"
    network.write_inventory(inventory)
    runner = CliRunner()
    result = runner.invoke(app, ["sim", "fault", "fibre-cut", "r2-r3", "--inventory",
                                 str(inventory)])
    assert result.exit_code == 0, result.output
    assert "r2-r3" in network.world.cut_links
    result = runner.invoke(app, ["sim", "fault", "memory-degradation", "r3", "--factor", "4",
                                 "--inventory", str(inventory)])
    assert result.exit_code == 0, result.output
    assert network.world.degradation("r3") == 4.0
    result = runner.invoke(app, ["sim", "fault", "crash", "zed", "--inventory", str(inventory)])
    assert result.exit_code == 1 and "no emulated device" in result.output
    result = runner.invoke(app, ["sim", "fault", FaultKind.OOB_EDIT.value, "r1", "--data",
                                 json.dumps({"sdqn-repeater:repeater": {"bsm-fidelity": "0.9"}}),
                                 "--inventory", str(inventory)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sim", "fault", "stall", "r1", "--seconds", "7", "--operation",
                                 "lock", "--operation", "confirming-commit", "--inventory",
                                 str(inventory)])
    assert result.exit_code == 0 and "stalls 7 s" in result.output, result.output
    stall = network.devices["r1"].stalled
    assert stall is not None and stall.operations == {"lock", "confirming-commit"}
    result = runner.invoke(app, ["sim", "fault", "stall", "r1", "--clear", "--inventory",
                                 str(inventory)])
    assert result.exit_code == 0 and network.devices["r1"].stalled is None
    missing = runner.invoke(app, ["sim", "fault", "crash", "r1", "--inventory",
                                  str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "no inventory" in missing.output
