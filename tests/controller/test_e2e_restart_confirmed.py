"""End to end: the controller daemon restarts while a confirmed commit is pending.

RFC 6241 §8.4.1: a restart before the confirming commit restores the configuration from
before the confirmed commit. For a controller that configuration is more than running:
intended (the Q-NUM expansion) and every device it pushed go back with it, in one
transaction, through the service layer. An operator learns it from an alarm in
<operational> and from an RFC 6470 netconf-confirmed-commit notification (confirm-event
"timeout"), which the daemon sent during its start-up and a client gets by RFC 5277
replay. The device sessions are up again when the daemon says it listens.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from ncclient import manager as nc_manager

from simulators.faults import FaultRequest
from tests.controller.e2e import (
    NC,
    SVC,
    Daemon,
    assert_devices_run_intended,
    assert_services_served,
    datastores,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    wait_devices_run_intended,
    wait_for,
    write_config,
)

NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
MANAGE_EVENT = "urn:ietf:params:xml:ns:netmod:notification"
AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
REVERTED = "sdqn-alarms:confirmed-commit-reverted"


def confirmed_delete(daemon: Daemon, service: str) -> None:
    """candidate: delete one service; <commit><confirmed/><persist> (RFC 6241 §8.4): it
    outlives this session and waits for a confirming commit that never comes."""
    m = daemon.manager()
    try:
        m.edit_config(target="candidate", config=(
            f'<config xmlns="{NC}" xmlns:nc="{NC}"><entanglement-services xmlns="{SVC}">'
            f'<request nc:operation="delete"><name>{service}</name></request>'
            "</entanglement-services></config>"))
        m.commit(confirmed=True, timeout="600", persist="never-confirmed")
    finally:
        with contextlib.suppress(Exception):
            m.close_session()


def alarms(daemon: Daemon) -> dict[str, dict[str, str | None]]:
    data = daemon.get_data("operational", "/al:alarms/al:alarm-list", {"al": AL})
    return {str(a.findtext(f"{{{AL}}}alarm-type-id")).split(":")[-1]:
            {"resource": a.findtext(f"{{{AL}}}resource"),
             "severity": a.findtext(f"{{{AL}}}perceived-severity"),
             "cleared": a.findtext(f"{{{AL}}}is-cleared")}
            for a in data.iter(f"{{{AL}}}alarm")}


def replayed(m: nc_manager.Manager, since: datetime) -> list[etree._Element]:
    """RFC 5277 replay from `since`: every notification up to <replayComplete>."""
    m.create_subscription(start_time=since.isoformat().replace("+00:00", "Z"))
    got: list[etree._Element] = []
    while True:
        note = m.take_notification(block=True, timeout=10)
        assert note is not None, "no replayComplete"
        root = etree.fromstring(note.notification_xml.encode())
        content = next(c for c in root if etree.QName(c).localname != "eventTime")
        if etree.QName(content) == etree.QName(MANAGE_EVENT, "replayComplete"):
            return got
        got.append(content)


def test_restart_reverts_a_pending_confirmed_commit_everywhere(tmp_path: Path) -> None:
    with emulated_network() as net:
        config = write_config(tmp_path, "svc")
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            edit_running(daemon, intent_xml(net))
            before = datastores(daemon)
            devices_before = device_configs(net)
            confirmed_delete(daemon, "teleport-bob-charlie")
            assert datastores(daemon) != before
            assert device_configs(net) != devices_before     # the devices run it already
        # SIGTERM with the commit still pending: the restart reverts it.
        restarted = datetime.now(UTC)
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            # Running, intended and the devices, all as before the confirmed commit...
            assert datastores(daemon) == before, daemon.log_tail()
            assert device_configs(net) == devices_before, daemon.log_tail()
            assert_devices_run_intended(daemon, net)
            # ...with every device session up (not waiting for a reconnect timer)...
            states = wait_for(daemon.connection_states,
                              lambda s: set(s.values()) == {"connected"}, timeout=10)
            assert set(states) == set(net.devices) and set(states.values()) == {"connected"}
            # ...an alarm that says what happened...
            alarm = alarms(daemon).get(REVERTED.split(":")[1])
            assert alarm is not None, alarms(daemon)
            assert alarm["resource"] == "ietf-datastores:running"
            assert alarm["severity"] == "warning" and alarm["cleared"] == "false"
            # ...and the RFC 6470 event, sent before anyone could listen: replayed.
            m = daemon.manager()
            try:
                events = [e for e in replayed(m, restarted)
                          if etree.QName(e) == etree.QName(NCN, "netconf-confirmed-commit")]
            finally:
                m.close_session()
            assert [e.findtext(f"{{{NCN}}}confirm-event") for e in events] == ["timeout"]
            assert events[0].find(f"{{{NCN}}}session-id") is None   # none for a timeout
            assert_services_served(daemon)

            # The operator commits running again: the alarm clears.
            confirmed_delete(daemon, "teleport-bob-charlie")
            m = daemon.manager()
            try:
                m.commit(persist_id="never-confirmed")           # the confirming commit
            finally:
                m.close_session()
            assert alarms(daemon)[REVERTED.split(":")[1]]["cleared"] == "true"


def test_restart_revert_with_a_device_down_reverts_the_rest(tmp_path: Path) -> None:
    """§8.4.1 is a MUST: a device that cannot take the old configuration does not stop
    the revert. Running goes back, the alarm is major, and once the device is back the
    whole network runs what intended says (self-healing re-plans around the dead device
    meanwhile, so intended is not the one from before)."""
    down = "charlie"
    with emulated_network() as net:
        config = write_config(tmp_path, "svc", sync_interval_s=1.0)
        with Daemon(config, tmp_path / "daemon-1.log") as daemon:
            edit_running(daemon, intent_xml(net))
            before = running(daemon)
            devices_before = device_configs(net)
            confirmed_delete(daemon, "teleport-bob-charlie")
        assert device_configs(net)[down] != devices_before[down]
        net.faults.apply(FaultRequest(kind="crash", target=down))
        with Daemon(config, tmp_path / "daemon-2.log") as daemon:
            assert running(daemon) == before, daemon.log_tail()
            alarm = alarms(daemon)[REVERTED.split(":")[1]]
            assert alarm["severity"] == "major" and alarm["cleared"] == "false"
            net.faults.apply(FaultRequest(kind="crash", target=down, clear=True))
            wait_devices_run_intended(daemon, net)
            assert running(daemon) == before


def running(daemon: Daemon) -> dict[str, bytes]:
    return {k: v for k, v in datastores(daemon).items() if k.startswith("running")}
