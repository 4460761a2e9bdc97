"""End to end: a device committed before it answers stays out of the plan across a
controller restart, and is configured by the restarted daemon once it answers.

The restarted controller never reached the device either: it must not take the device
for one in service (and plan services on it) just because <intended> holds its
configuration. The emulated network runs in the test process; the controller is
`sdqn controller run` in a subprocess, its data directory in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

from tests.controller.e2e import (
    CTL,
    SVC,
    Daemon,
    canonical,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    wait_for,
    write_config,
)

NODE = "r3"


def exclusions(daemon: Daemon) -> dict[str | None, str | None]:
    data = daemon.get_data("operational", "/c:controller/c:southbound", {"c": CTL})
    return {d.findtext(f"{{{CTL}}}node-id"): d.findtext(f"{{{CTL}}}plan-exclusion")
            for d in data.iter(f"{{{CTL}}}device")}


def paths(daemon: Daemon) -> dict[str | None, list[str | None]]:
    data = daemon.get_data("operational", "/s:entanglement-services", {"s": SVC})
    return {r.findtext(f"{{{SVC}}}name"): [p.text for p in r.iterfind(
                f"{{{SVC}}}state/{{{SVC}}}path")]
            for r in data.iter(f"{{{SVC}}}request")}


def test_a_device_not_reached_stays_out_across_a_restart_until_it_answers(
        tmp_path: Path) -> None:
    config = write_config(tmp_path, "preprov")
    with emulated_network() as net:
        net.devices[NODE].lose_sessions()            # r3's server does not answer yet
        factory = device_configs(net)[NODE]
        with Daemon(config, tmp_path / "first.log") as daemon:
            edit_running(daemon, intent_xml(net))
            assert exclusions(daemon)[NODE] == "unreachable", daemon.log_tail()
            assert NODE in daemon.intended_configs()
            assert all(NODE not in p for p in paths(daemon).values())
        with Daemon(config, tmp_path / "second.log") as daemon:
            assert exclusions(daemon)[NODE] == "unreachable", daemon.log_tail()
            assert all(NODE not in p for p in paths(daemon).values())
            assert device_configs(net)[NODE] == factory          # nothing reached it

            net.devices[NODE].restore_sessions()
            wait_for(lambda: exclusions(daemon)[NODE], lambda why: why is None, timeout=60)
            assert exclusions(daemon)[NODE] is None, daemon.log_tail()
            intended = daemon.intended_configs()[NODE]
            running = wait_for(lambda: device_configs(net)[NODE],
                               lambda have: canonical(have) == canonical(intended), 30)
            assert canonical(running) == canonical(intended)
            assert NODE in wait_for(lambda: paths(daemon).get("dqc-charlie-dave", []),
                                    lambda p: NODE in p, timeout=30)
