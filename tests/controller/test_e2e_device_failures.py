"""End to end: a device that stalls in the middle of a network-wide commit.

The controller daemon runs as a subprocess against the emulated metro network; the
`stall` fault (simulators/faults.py) holds one kind of NETCONF rpc on one device longer
than the controller's per-device timeout, and then runs it, as a busy device would.

* Stalled in the lock phase: the commit fails naming the device, and the lock the device
  grants later to the controller's abandoned session does not outlive it (RFC 6241 §7.5:
  a session's locks go with it), so the next commit and any fresh session can lock.
* Stalled in the confirm phase (after the controller's durable write): the commit is an
  error naming the device, never `<ok/>`, and the network is in one state: every device,
  running and intended as before the commit, even once the held confirm runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ncclient.operations import RPCError

from simulators.devices.runtime import Stall
from simulators.faults import FaultRequest
from simulators.launcher import Network
from southbound.transport import connect
from tests.controller.e2e import (
    SVC,
    Daemon,
    assert_devices_run_intended,
    datastores,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    wait_devices_run_intended,
    wait_for,
    write_config,
)

#: a per-device rpc timeout the stall outlasts
DEVICE_TIMEOUT_S = 2.0
STALL_S = 60.0
#: deleting this service changes the configuration of its end nodes (bob, charlie) and
#: of the devices on its path
DELETE_TELEPORT = (f'<entanglement-services xmlns="{SVC}"><request nc:operation="delete">'
                   "<name>teleport-bob-charlie</name></request></entanglement-services>")
STALLED = "charlie"


def stall(net: Network, operation: str) -> Stall:
    net.faults.apply(FaultRequest(kind="stall", target=STALLED, seconds=STALL_S,
                                  operations=[operation]))
    held = net.devices[STALLED].stalled
    assert held is not None
    return held


def unstall(net: Network, held: Stall) -> None:
    """Clear the stall; the held rpcs run now (on sessions the controller gave up)."""
    net.faults.apply(FaultRequest(kind="stall", target=STALLED, clear=True))
    assert held.held >= 1, "the commit never reached the stalled rpc"


def test_device_stalling_in_the_lock_phase_is_not_left_locked(tmp_path: Path) -> None:
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "lock", device_timeout_s=DEVICE_TIMEOUT_S),
                   tmp_path / "daemon.log") as daemon:
        edit_running(daemon, intent_xml(net))
        before = datastores(daemon)
        devices_before = device_configs(net)

        held = stall(net, "lock")
        with pytest.raises(RPCError) as refused:
            edit_running(daemon, DELETE_TELEPORT)
        assert f"device {STALLED}" in str(refused.value), daemon.log_tail()
        assert datastores(daemon) == before
        assert device_configs(net) == devices_before
        unstall(net, held)

        # The lock granted late to the controller's timed-out session is released:
        # the same change now goes through...
        edit_running(daemon, DELETE_TELEPORT)
        assert datastores(daemon) != before
        assert device_configs(net)[STALLED] != devices_before[STALLED]
        wait_devices_run_intended(daemon, net)
        # ...and a fresh NETCONF session to the device can lock it.
        m = connect(host="127.0.0.1", port=net.devices[STALLED].port, username="admin",
                    password="admin", timeout=10)
        try:
            m.lock("candidate")
            m.unlock("candidate")
        finally:
            m.close_session()


def test_device_failing_to_confirm_fails_the_commit_and_nothing_changes(
        tmp_path: Path) -> None:
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "confirm", device_timeout_s=DEVICE_TIMEOUT_S),
                   tmp_path / "daemon.log") as daemon:
        edit_running(daemon, intent_xml(net))
        before = datastores(daemon)
        devices_before = device_configs(net)

        held = stall(net, "confirming-commit")
        with pytest.raises(RPCError) as refused:
            edit_running(daemon, DELETE_TELEPORT)
        assert f"device {STALLED}" in str(refused.value), daemon.log_tail()
        assert "confirm" in str(refused.value)
        unstall(net, held)
        # The held confirming commits run now, against a commit already cancelled: they
        # change nothing. Give them the time to run before looking.
        time.sleep(1.0)

        # One state everywhere: the one before the commit.
        assert datastores(daemon) == before
        assert device_configs(net) == devices_before, daemon.log_tail()
        assert_devices_run_intended(daemon, net)

        # The device answers again: the same change goes through whole.
        edit_running(daemon, DELETE_TELEPORT)
        assert datastores(daemon) != before
        assert wait_for(lambda: device_configs(net)[STALLED],
                        lambda c: c != devices_before[STALLED], timeout=5) \
            != devices_before[STALLED]
        wait_devices_run_intended(daemon, net)
