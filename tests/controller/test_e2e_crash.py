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

from controller.errors import NetconfError
from controller.netconf.operations import Operations
from controller.netconf.server import NetconfServer
from simulators.launcher import Network
from tests.controller.e2e import (
    CTL,
    NC,
    NMDA,
    SVC,
    Daemon,
    assert_devices_run_intended,
    assert_services_served,
    device_configs,
    emulated_network,
    intent_xml,
    wait_for,
    write_config,
)

CONFIRM_TIMEOUT_S = 6.0


def edit_running(daemon: Daemon, config: str) -> None:
    """RFC 8526 <edit-data> of running; blocks until the commit is done (or fails)."""
    m = daemon.manager()
    try:
        m.dispatch(etree.fromstring(
            f'<edit-data xmlns="{NMDA}" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"'
            f' xmlns:nc="{NC}"><datastore>ds:running</datastore><config>{config}</config>'
            "</edit-data>"))
    finally:
        with contextlib.suppress(Exception):
            m.close_session()


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


def datastores(daemon: Daemon) -> dict[str, bytes]:
    """The controller's services in running and device configurations in intended,
    canonical XML (C14N)."""
    return {f"{ds} {xpath}": etree.tostring(daemon.get_data(ds, xpath, {"s": SVC, "c": CTL}),
                                            method="c14n")
            for ds in ("running", "intended")
            for xpath in ("/s:entanglement-services", "/c:controller/c:devices")}


def test_killed_between_write_and_confirm_recovers_consistently(tmp_path: Path) -> None:
    with emulated_network() as net:
        config = write_config(tmp_path, "pause", confirm_timeout_s=CONFIRM_TIMEOUT_S,
                              fault_pause_before_confirm_s=30.0)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            # The first commit of the intent blocks in the injected pause: run it aside.
            edit_running_aside(daemon, intent_xml(net))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:   # devices pending and the write done
                if inflight(tmp_path) and all(device_configs(net).values()):
                    break
                time.sleep(0.05)
            assert inflight(tmp_path), "the commit never reached its confirm phase"
            time.sleep(1.0)                      # inside the 30 s pause, after the write
            daemon.kill()
        pending = device_configs(net)
        assert all(pending.values())             # every device holds the pending config

        config = write_config(tmp_path, "plain", confirm_timeout_s=CONFIRM_TIMEOUT_S)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            assert inflight(tmp_path) is None    # recovery finished the commit
            time.sleep(CONFIRM_TIMEOUT_S + 2)    # an unconfirmed commit would revert by now
            assert device_configs(net) == pending, "a device reverted: half applied"
            assert_devices_run_intended(daemon, net)
            assert_services_served(daemon)


class CommitHold:
    """Emulated devices that apply a confirmed commit with <persist> and then hold the
    reply until released: the controller sits in its commit phase, before its own
    durable write, with every device holding the new configuration pending."""

    def __init__(self, net: Network) -> None:
        self.held: set[str] = set()
        self.release = threading.Event()
        for device in net.devices.values():
            server = device.server
            assert isinstance(server, NetconfServer)
            server.core.extra_rpcs[f"{{{NC}}}commit"] = self._handler(device.node_id,
                                                                      Operations(server.core))

    def _handler(self, node: str, ops: Operations) -> Any:
        def commit(session: Any, op: etree._Element) -> None:
            ops.commit(session, op)
            if op.find(f"{{{NC}}}persist") is not None:
                self.held.add(node)
                self.release.wait(30)
        return commit


def test_killed_before_the_write_rolls_back_everywhere(tmp_path: Path) -> None:
    with emulated_network() as net:
        # A confirm timeout far beyond the test: only recovery can undo the devices.
        config = write_config(tmp_path, "hold", confirm_timeout_s=300.0,
                              device_timeout_s=30.0)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            edit_running(daemon, intent_xml(net))
            before = datastores(daemon)
            devices_before = device_configs(net)
            hold = CommitHold(net)
            try:
                edit_running_aside(daemon, (
                    f'<entanglement-services xmlns="{SVC}"><request nc:operation="delete">'
                    "<name>teleport-bob-charlie</name></request></entanglement-services>"))
                record = wait_for(lambda: inflight(tmp_path),
                                  lambda r: r is not None and hold.held >= set(r["nodes"]),
                                  timeout=30, period=0.05)
                assert record is not None and hold.held >= set(record["nodes"]), \
                    f"the commit never reached its commit phase\n{daemon.log_tail()}"
                daemon.kill()
            finally:
                hold.release.set()
        nodes = set(record["nodes"])
        assert len(nodes) >= 2
        pending = device_configs(net)
        assert all(pending[n] != devices_before[n] for n in nodes), "nothing was pending"

        config = write_config(tmp_path, "plain", confirm_timeout_s=300.0)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            # Start-up recovery ran before the daemon listened: the devices are back now,
            # long before their confirm timeout, and no pending commit is left.
            assert inflight(tmp_path) is None
            assert device_configs(net) == devices_before, daemon.log_tail()
            for node in nodes:
                with pytest.raises(NetconfError, match="no confirmed commit is pending"):
                    net.devices[node].store.cancel_commit(persist_id=record["commit-id"])
            assert datastores(daemon) == before      # the deleted service is still there
            assert_devices_run_intended(daemon, net)
            assert_services_served(daemon)
