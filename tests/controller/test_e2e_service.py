"""End to end with real sockets and processes: an operator configures the metro topology
and the demo services on the controller daemon over NETCONF (candidate + commit, RFC 6241
§8.3); the controller solves, pushes every emulated device and serves the result.

The emulated network runs in the test process at 60× simulated time; the controller is
`sdqn controller run` in a subprocess, with its data directory in tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

from controller.paths import CONFIG_DIR
from tests.controller.e2e import (
    SERVED,
    SVC,
    Daemon,
    assert_devices_run_intended,
    assert_services_served,
    commit_intent,
    device_configs,
    emulated_network,
    intent_xml,
    write_config,
)


def test_operator_commit_configures_devices_and_services_come_up(tmp_path: Path) -> None:
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "svc"), tmp_path / "daemon.log") as daemon:
        factory = device_configs(net)
        commit_intent(daemon, intent_xml(net))

        # Every device runs exactly what the controller intends for it (and it says so).
        assert_devices_run_intended(daemon, net)
        assert all(config != factory[node] for node, config in device_configs(net).items())

        states = daemon.service_states()
        assert {n for n, s in states.items() if s["admission"] == "admitted"} == set(SERVED)
        assert states["dqs-alice-dave"]["admission"] == "rejected"   # F ≥ 0.99: out of reach
        # Provisioning, then stabilising while the devices apply it: never down.
        assert all(states[n]["oper-state"] != "down" for n in SERVED), states
        # Lasers warm up and APCs calibrate (minutes simulated): then the services are up.
        assert_services_served(daemon)

        # The committed intent is what running holds (the candidate was not lost).
        services = daemon.get_data("running", "/s:entanglement-services", {"s": SVC})
        demo = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
        assert {r.findtext(f"{{{SVC}}}name") for r in services.iter(f"{{{SVC}}}request")} \
            == {r["name"] for r in demo["sdqn-services:entanglement-services"]["request"]}
