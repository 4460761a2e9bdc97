"""A training drill in a real browser (Playwright, Debian's headless chromium): the console
starts a drill on the emulated network, the operator names the faulted fibre, the
controller scores it correct with a time, ending reveals the fault, and the history table
shows the drill. The console is the RESTCONF server's, with the drill rpcs wired to the
emulator in process (as `sdqn controller run --inventory` wires them over its socket)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.app.drills import EmulatorChannel, netconf_drill_rpcs, restconf_drill_rpcs
from controller.console.site import ConsoleSite
from controller.datastore.nmda import NmdaStore
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.service.drills import DrillService
from simulators.clock import ScaledClock
from simulators.devices.world import Topology
from simulators.launcher import Network
from tests.controller.console.conftest import console_page
from tests.controller.netconf.conftest import AUTH, LIMITS, make_store


@pytest.fixture
def network() -> Iterator[Network]:
    net = Network(Topology.load(CONFIG_DIR / "topologies" / "metro.json"),
                  clock=ScaledClock(60.0), use_topology_ports=False, tick=0.2)
    net.start(control=False)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def console_url(schema: Any, network: Network, tmp_path: Path) -> Iterator[str]:
    store: NmdaStore = make_store(schema)
    drills = DrillService(store, EmulatorChannel.in_process(network.topology, network.faults),
                          seed=3)
    netconf = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key", limits=LIMITS,
                            name="drills-console", extra_rpcs=netconf_drill_rpcs(drills))
    netconf.start()
    access = DataAccess(store, users=AUTH, core=netconf.core)
    hub = EventHub(store, poll_s=0.05)
    server = RestconfServer(access, hub=hub, extra_rpcs=restconf_drill_rpcs(drills),
                            sse_heartbeat_s=0.2, console=ConsoleSite(access))
    server.start()
    try:
        yield f"http://{server.host}:{server.port}"
    finally:
        server.stop()
        hub.stop()
        drills.close()
        access.close()
        netconf.stop()


def test_a_drill_scores_the_right_fibre(browser: Any, console_url: str, network: Network,
                                        artifacts: Path) -> None:
    page = console_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{console_url}/console/#/drills")
    page.wait_for_selector("main[data-view='drills'][data-ready='true']")
    assert page.is_disabled("#drill-submit")
    page.select_option("#drill-kind", "fibre-cut")
    page.click("#drill-start")
    page.wait_for_function("() => document.getElementById('drill-elapsed')"
                           ".textContent.startsWith('Elapsed')")
    [cut] = network.world.cut_links     # the hidden fault, as the plant sees it
    assert page.locator("#drill-history tbody tr td", has_text="hidden").count() == 1
    page.select_option("#drill-resource", cut)
    page.click("#drill-submit")
    score = page.locator("#drill-score")
    score.wait_for()
    assert score.inner_text().startswith(f"{cut}: Correct")
    assert "time to localise" in score.inner_text()
    page.screenshot(path=str(artifacts / "console-drill-scored.png"), full_page=True)
    page.click("#drill-end")
    page.locator("#drill-revealed").wait_for()
    assert f"fibre-cut on {cut}" in page.inner_text("#drill-revealed")
    assert not network.world.cut_links
    row = page.locator("#drill-history tbody tr").last
    cells = row.locator("td").all_inner_texts()
    assert cells[3] == f"fibre-cut on {cut}" and cells[4] == cut and cells[5] == "yes"
    page.screenshot(path=str(artifacts / "console-drill-history.png"), full_page=True)
    assert errors == []

