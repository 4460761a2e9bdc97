"""End to end with real processes: the controller daemon is SIGKILLed in the middle of a
network-wide commit and restarted on the same data directory. Nothing may stay half
applied: every device ends up running what <intended> says, and the datastores hold
either the state before the commit or the state after it, as a whole.

Killed after its durable write (before the devices' confirm), the new process confirms
the devices' pending commits (they would otherwise revert after the confirm timeout).
Killed before the write (devices hold the commit, the datastores never saw it), the new
process cancels them by persist-id (RFC 6241 §8.4.4.1) at once, not a timeout later.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from controller.errors import ErrorTag, NetconfError
from controller.netconf.core import ServerCore
from controller.netconf.operations import Operations
from controller.netconf.server import NetconfServer
from simulators.launcher import Network
from tests.controller.e2e import (
    NC,
    SERVED,
    SVC,
    Daemon,
    assert_devices_run_intended,
    assert_services_served,
    datastores,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    wait_for,
    write_config,
)

#: far beyond a test: only recovery, never a device's own timer, may settle a commit
CONFIRM_TIMEOUT_S = 300.0
COMMIT = f"{{{NC}}}commit"


def edit_running_aside(daemon: Daemon, config: str) -> threading.Thread:
    """The edit in a thread of its own: the daemon is killed under it (an error, ignored)."""
    def submit() -> None:
        with contextlib.suppress(Exception):
            edit_running(daemon, config)

    thread = threading.Thread(target=submit, daemon=True)
    thread.start()
    return thread


def inflight(tmp_path: Path) -> dict[str, Any] | None:
    path = tmp_path / "data" / "inflight-commit.json"
    with contextlib.suppress(FileNotFoundError, ValueError):
        return dict(json.loads(path.read_text()))
    return None


def test_killed_between_write_and_confirm_recovers_consistently(tmp_path: Path) -> None:
    with emulated_network() as net:
        config = write_config(tmp_path, "pause", confirm_timeout_s=CONFIRM_TIMEOUT_S,
                              fault_pause_before_confirm_s=30.0)
        factory = device_configs(net)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            # The first commit of the intent blocks in the injected pause: run it aside.
            edit_running_aside(daemon, intent_xml(net))

            def committed(r: dict[str, Any] | None) -> bool:   # every device pending
                configs = device_configs(net)
                return r is not None and all(configs[n] != factory[n] for n in r["nodes"])

            record = wait_for(lambda: inflight(tmp_path), committed, timeout=60, period=0.05)
            assert committed(record), "the commit never reached its confirm phase"
            assert record is not None
            time.sleep(1.0)                      # inside the 30 s pause, after the write
            daemon.kill()
        pending = device_configs(net)
        assert set(record["nodes"]) == set(net.devices)

        config = write_config(tmp_path, "plain", confirm_timeout_s=CONFIRM_TIMEOUT_S)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            assert inflight(tmp_path) is None    # recovery finished the commit
            # Confirmed, not merely not reverted yet: no commit is left to time out.
            assert_no_pending_commit(net, set(record["nodes"]), record["commit-id"])
            assert device_configs(net) == pending, "a device reverted: half applied"
            assert_devices_run_intended(daemon, net)
            assert_services_served(daemon)


class CommitHold:
    """Emulated devices whose NETCONF <commit> the test steers (slow devices), to stop the
    controller at an exact point of a network commit:

    * `hold_commit`: a confirmed commit with <persist> is applied, then its reply held
      until `release`: the controller sits in its commit phase, before its durable write;
    * `lose_confirm`: on these devices the confirming <commit><persist-id> is held, then
      lost (never applied, as if the controller died before sending it); the others
      confirm normally and are listed in `confirmed`.
    """

    def __init__(self, net: Network, *, hold_commit: bool = False,
                 lose_confirm: frozenset[str] = frozenset()) -> None:
        self.hold_commit = hold_commit
        self.lose_confirm = lose_confirm
        self.held: set[str] = set()
        self.confirmed: set[str] = set()
        self.release = threading.Event()
        self._cores: list[ServerCore] = []
        for device in net.devices.values():
            server = device.server
            assert isinstance(server, NetconfServer)
            server.core.extra_rpcs[COMMIT] = self._handler(device.node_id,
                                                           Operations(server.core))
            self._cores.append(server.core)

    def __enter__(self) -> CommitHold:
        return self

    def __exit__(self, *exc: object) -> None:
        """Devices back to normal: held replies go out (to a dead controller)."""
        for core in self._cores:
            core.extra_rpcs.pop(COMMIT, None)
        self.release.set()

    def _handler(self, node: str, ops: Operations) -> Any:
        def commit(session: Any, op: etree._Element) -> None:
            confirming = op.find(f"{{{NC}}}persist-id") is not None
            if confirming and node in self.lose_confirm:
                self._hold(node)
                raise NetconfError.of(ErrorTag.OPERATION_FAILED, "confirm lost")
            ops.commit(session, op)
            if confirming:
                self.confirmed.add(node)
            elif self.hold_commit and op.find(f"{{{NC}}}persist") is not None:
                self._hold(node)
        return commit

    def _hold(self, node: str) -> None:
        self.held.add(node)
        self.release.wait(30)


def assert_no_pending_commit(net: Network, nodes: set[str], commit_id: str) -> None:
    """cancel-commit by the persist-id finds nothing: confirmed or cancelled already."""
    for node in sorted(nodes):
        with pytest.raises(NetconfError, match="no confirmed commit is pending"):
            net.devices[node].store.cancel_commit(persist_id=commit_id)


def test_killed_before_the_write_rolls_back_everywhere(tmp_path: Path) -> None:
    with emulated_network() as net:
        config = write_config(tmp_path, "hold", confirm_timeout_s=CONFIRM_TIMEOUT_S,
                              device_timeout_s=30.0)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            edit_running(daemon, intent_xml(net))
            before = datastores(daemon)
            devices_before = device_configs(net)
            with CommitHold(net, hold_commit=True) as hold:
                edit_running_aside(daemon, (
                    f'<entanglement-services xmlns="{SVC}"><request nc:operation="delete">'
                    "<name>teleport-bob-charlie</name></request></entanglement-services>"))
                record = wait_for(lambda: inflight(tmp_path),
                                  lambda r: r is not None and hold.held >= set(r["nodes"]),
                                  timeout=30, period=0.05)
                assert record is not None and hold.held >= set(record["nodes"]), \
                    f"the commit never reached its commit phase\n{daemon.log_tail()}"
                daemon.kill()
        nodes = set(record["nodes"])
        assert len(nodes) >= 2
        pending = device_configs(net)
        assert all(pending[n] != devices_before[n] for n in nodes), "nothing was pending"

        config = write_config(tmp_path, "plain", confirm_timeout_s=CONFIRM_TIMEOUT_S)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            # Start-up recovery ran before the daemon listened: the devices are back now,
            # long before their confirm timeout, and no pending commit is left.
            assert inflight(tmp_path) is None
            assert device_configs(net) == devices_before, daemon.log_tail()
            assert_no_pending_commit(net, nodes, record["commit-id"])
            assert datastores(daemon) == before      # the deleted service is still there
            assert_devices_run_intended(daemon, net)
            assert_services_served(daemon)


def test_killed_in_the_confirm_phase_confirms_the_rest(tmp_path: Path) -> None:
    """Half the devices confirmed, the others still pending: the new process confirms
    those (the datastore write was done), nothing reverts, the commit stands whole."""
    lost = frozenset({"alice", "r1", "apc-1"})
    with emulated_network() as net:
        config = write_config(tmp_path, "hold", confirm_timeout_s=CONFIRM_TIMEOUT_S,
                              device_timeout_s=30.0)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon, \
                CommitHold(net, lose_confirm=lost) as hold:
            edit_running_aside(daemon, intent_xml(net))
            record = wait_for(lambda: inflight(tmp_path),
                              lambda r: r is not None and hold.held >= lost and
                              hold.confirmed >= set(r["nodes"]) - lost,
                              timeout=30, period=0.05)
            assert record is not None and hold.held >= lost, \
                f"the commit never reached its confirm phase\n{daemon.log_tail()}"
            daemon.kill()
        nodes = set(record["nodes"])
        assert nodes == set(net.devices) and hold.confirmed == nodes - lost
        pushed = device_configs(net)

        config = write_config(tmp_path, "plain", confirm_timeout_s=CONFIRM_TIMEOUT_S)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            assert inflight(tmp_path) is None
            assert_no_pending_commit(net, nodes, record["commit-id"])
            assert device_configs(net) == pushed, daemon.log_tail()   # nothing reverted
            assert {n for n, s in daemon.service_states().items()
                    if s["admission"] == "admitted"} == set(SERVED)
            assert_devices_run_intended(daemon, net)    # intended is what was pushed
            assert_services_served(daemon)
