"""The console in a real browser (Playwright driving Debian's headless chromium) against
the controller daemon (`sdqn controller run`, RESTCONF on) managing the emulated metro
network: every node and fibre drawn, a fibre cut shown red with its root alarm, a
read-only user without action controls (and refused when forging one), every nav item
reachable by keyboard. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from controller.console.site import STATIC
from tests.controller.console.conftest import CHROMIUM, console_page
from tests.controller.e2e import Daemon, intent_xml, northbound_daemon, wait_for

JSON = "application/yang-data+json"
LINKS = "/restconf/ds/ietf-datastores:operational/ietf-network:networks"
ALARMS = "/restconf/ds/ietf-datastores:operational/ietf-alarms:alarms/alarm-list"
NAV = ["topology", "alarms", "services", "commits", "slices", "drills"]
#: the shell asks which views exist (HEAD views/<name>.js) and whether alarms exist yet;
#: the browser logs each 404 answer, which is no fault
EXPECTED_404 = "Failed to load resource: the server responded with a status of 404"
#: the bound of "within 5 s" the console promises from fault to screen
SHOWN_WITHIN_MS = 5000


class Setup:
    def __init__(self, net: Any, daemon: Daemon, url: str) -> None:
        self.net, self.daemon, self.url = net, daemon, url

    def client(self, user: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, user), timeout=30,
                            headers={"Accept": JSON})

    def links(self) -> dict[str, dict[str, Any]]:
        with self.client() as c:
            body = c.get(LINKS).json()
        network = body["ietf-network:networks"]["network"][0]
        return {link["link-id"]: link for link in network["ietf-network-topology:link"]}

    def recorded(self, kind: str, resource: str) -> list[dict[str, Any]]:
        """sdqn-history get-history of one resource: what the time slider can show."""
        with self.client() as c:
            response = c.post("/restconf/operations/sdqn-history:get-history",
                              json={"sdqn-history:input": {"kind": [kind],
                                                           "resource": resource}},
                              headers={"Content-Type": JSON})
        assert response.status_code == 200, response.text
        return list(response.json()["sdqn-history:output"].get("sample", []))

    def alarms(self) -> list[dict[str, Any]]:
        with self.client() as c:
            response = c.get(ALARMS)
        if response.status_code == 404:
            return []
        return list(response.json()["ietf-alarms:alarm-list"].get("alarm", []))


@contextmanager
def console_daemon(tmp: Path, intent: Callable[[Any], str]) -> Iterator[Setup]:
    """A daemon serving RESTCONF and the console on the emulated metro network, with
    `intent(net)` (the config XML) committed over NETCONF."""
    if not CHROMIUM.exists():
        pytest.fail("the console tests need Debian's chromium (make system-deps)")
    for vendored in ("cytoscape.esm.min.js", "uplot.esm.js"):
        if not (STATIC / "vendor" / vendored).exists():
            pytest.fail("the console's vendor files are missing: run make console-assets")
    with northbound_daemon(tmp, tmp.name, grpc=False, intent=intent) as served:
        net, daemon, address = served.net, served.daemon, served.restconf
        yield Setup(net, daemon, "http://" + address)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with console_daemon(tmp_path_factory.mktemp("console"), intent_xml) as found:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:   # telemetry of every fibre has arrived
            links = found.links()
            if all("measured-fidelity" in link["sdqn-topology:quantum-link"].get("state", {})
                   for link in links.values()):
                break
            time.sleep(1)
        yield found


def open_console(browser: Any, setup: Setup, user: str, view: str = "topology") -> Any:
    page = console_page(browser, user)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith(EXPECTED_404) else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{setup.url}/console/#/{view}")
    page.wait_for_selector(f"main[data-view='{view}'][data-ready='true']", timeout=30000)
    page.errors = errors
    return page


def test_topology_draws_every_node_and_fibre(browser: Any, setup: Setup,
                                             artifacts: Path) -> None:
    page = open_console(browser, setup, "admin")
    drawn = page.evaluate("""() => ({
        nodes: window.sdqnTopology.cy.nodes().map((n) => n.id()),
        edges: window.sdqnTopology.cy.edges().map((e) => [e.id(), e.data('grade')])})""")
    topology = setup.net.topology
    assert sorted(drawn["nodes"]) == sorted(topology.nodes)
    assert sorted(e for e, _ in drawn["edges"]) == sorted(topology.links) == sorted(setup.links())
    assert {grade for _, grade in drawn["edges"]} <= {"good", "fair", "bad", "stale"}
    assert page.locator("#link-table tbody tr").count() == len(setup.links())
    assert page.locator("#legend li").count() >= 4
    page.click("#scale-toggle")
    assert page.get_attribute("#scale-toggle", "aria-pressed") == "true"
    assert "QBER" in page.inner_text("#link-table caption")
    page.screenshot(path=str(artifacts / "console-topology.png"), full_page=True)
    assert page.errors == []   # nothing blocked by the CSP, no script error


def test_fibre_cut_turns_the_link_red_and_shows_the_root_alarm(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "admin")
    link = "r2-r3"
    setup.net.world.set_cut(link, True)
    try:
        page.wait_for_function(
            "(id) => window.sdqnTopology.cy.getElementById(id).data('grade') === 'bad'",
            arg=link, timeout=SHOWN_WITHIN_MS)
        root = page.locator(f"#root-alarm-list li[data-alarm-type='fibre-cut']"
                            f"[data-resource='{link}']")
        root.wait_for(timeout=SHOWN_WITHIN_MS)
        colour = page.evaluate(
            "(id) => window.sdqnTopology.cy.getElementById(id).style('line-color')", link)
        assert colour in ("rgb(180,35,24)", "rgb(180, 35, 24)", "#b42318"), colour
        page.screenshot(path=str(artifacts / "console-fibre-cut.png"), full_page=True)
        page.goto(f"{setup.url}/console/#/alarms")
        page.wait_for_selector("main[data-view='alarms'][data-ready='true']")
        page.locator(f"#active-alarms > li[data-alarm-type='fibre-cut']"
                     f"[data-resource='{link}']").wait_for(timeout=SHOWN_WITHIN_MS)
        assert page.locator("button.ack").count() >= 1   # admin may acknowledge
        page.screenshot(path=str(artifacts / "console-alarms.png"), full_page=True)
    finally:
        setup.net.world.set_cut(link, False)


#: asks the topology view for `n` refreshes at once (through its time listener, which
#: refetches at once, no debounce) and counts the topology reads they cause
BURST = """async (n) => {
  const ctx = window.sdqnTime.ctx;
  const original = window.fetch;
  const seen = { made: 0, inFlight: 0, most: 0 };
  window.fetch = async (...args) => {
    if (!String(args[0]).includes("ietf-network:networks")) return original(...args);
    seen.made += 1; seen.inFlight += 1; seen.most = Math.max(seen.most, seen.inFlight);
    try { return await original(...args); } finally { seen.inFlight -= 1; }
  };
  try {
    // a live event's refresh may be reading already (its read began before the count):
    // the burst then folds into it and costs one counted read, the rerun
    seen.wasRunning = window.sdqnTopology.refreshing();
    const asked = [];
    for (let i = 0; i < n; i += 1) for (const fn of ctx.timeListeners) asked.push(fn(null));
    await Promise.all(asked);
  } finally { window.fetch = original; }
  return seen;
}"""


def test_a_burst_of_refreshes_reads_the_topology_once_at_a_time(
        browser: Any, setup: Setup) -> None:
    """Ten refreshes asked for together: one read in flight, the rest folded into one
    rerun after it (not ten concurrent reads of the whole topology)."""
    page = open_console(browser, setup, "admin")
    seen = page.evaluate(BURST, 10)
    assert seen["most"] == 1, seen
    # the first read (unless one was under way) and the folded rerun (+ a live event's)
    assert (1 if seen["wasRunning"] else 2) <= seen["made"] < 10, seen
    assert page.errors == []


def test_read_only_user_has_no_actions_and_a_forged_one_is_refused(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    link = "r3-dave"
    setup.net.world.set_cut(link, True)
    try:
        deadline = time.monotonic() + 60
        while not any(not a.get("is-cleared") and link in a["resource"]
                      for a in setup.alarms()):
            assert time.monotonic() < deadline, "no alarm for the cut fibre"
            time.sleep(0.5)
        page = open_console(browser, setup, "operator", "alarms")
        page.locator(f"#active-alarms li[data-resource='{link}']").first.wait_for()
        whoami = page.evaluate("() => fetch('api/whoami').then((r) => r.json())")
        assert whoami["user"] == "operator"
        assert not any(whoami["may"][a] for a in ("commit", "rollback", "acknowledge"))
        assert page.locator("button").count() == 0
        page.screenshot(path=str(artifacts / "console-read-only.png"), full_page=True)

        before = setup.alarms()
        alarm = next(a for a in before if link in a["resource"] and not a.get("is-cleared"))
        forged = page.evaluate("""async (alarm) => {
            const { actionUrl } = await import('./views/alarms.js');
            const res = await fetch(actionUrl(alarm), {method: 'POST',
                headers: {'Content-Type': 'application/yang-data+json',
                          'Accept': 'application/yang-data+json'},
                body: JSON.stringify({'ietf-alarms:input': {state: 'ack', text: 'forged'}})});
            return {status: res.status, body: await res.text()};
        }""", alarm)
        assert forged["status"] >= 400, forged
        after = next(a for a in setup.alarms()
                     if (a["resource"], a["alarm-type-id"]) ==
                     (alarm["resource"], alarm["alarm-type-id"]))
        assert after.get("operator-state-change") == alarm.get("operator-state-change")
    finally:
        setup.net.world.set_cut(link, False)


def test_keyboard_reaches_every_nav_item(browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "admin")
    page.keyboard.press("Tab")
    first = page.evaluate("() => document.activeElement.className")
    assert first == "skip-link"
    assert page.locator(".skip-link").is_visible()   # visible when focused
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        view = page.evaluate("() => document.activeElement.dataset.view || null")
        if view:
            reached.append(view)
            outline = page.evaluate(
                "() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", view   # a visible focus indicator
    assert reached[:len(NAV)] == NAV
    page.keyboard.press("Shift+Tab")
    page.focus("a[data-view='alarms']")
    page.keyboard.press("Enter")
    page.wait_for_selector("main[data-view='alarms'][data-ready='true']")
    assert page.get_attribute("a[data-view='alarms']", "aria-current") == "page"
    page.screenshot(path=str(artifacts / "console-keyboard.png"))


def test_forged_acknowledge_is_access_denied(setup: Setup) -> None:
    alarm = {"resource": "/ietf-network:networks/network[network-id='metro']"
                         "/ietf-network-topology:link[link-id='r1-r2']",
             "alarm-type-id": "sdqn-alarms:fibre-cut", "alarm-type-qualifier": ""}
    path = (ALARMS.replace("/ds/ietf-datastores:operational", "/data") + "/alarm="
            + ",".join(quote(alarm[k], safe="") for k in
                       ("resource", "alarm-type-id", "alarm-type-qualifier"))
            + "/set-operator-state")
    with setup.client("operator") as c:
        response = c.post(path, json={"ietf-alarms:input": {"state": "ack"}},
                          headers={"Content-Type": JSON})
    assert response.status_code == 403
    assert "access-denied" in response.text


def _grade(page: Any, link: str) -> str:
    return str(page.evaluate("(id) => window.sdqnTopology.cy.getElementById(id).data('grade')",
                             link))


def _status(page: Any, node: str) -> str:
    return str(page.evaluate(
        "(id) => window.sdqnTopology.cy.getElementById(id).data('status')", node))


def test_time_slider_shows_the_link_healthy_before_a_cut_and_red_when_live(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    link = "r1-r2"
    node = "r1"   # a repeater: its device reports its status, so the history holds it
    page = open_console(browser, setup, "admin")
    assert page.get_attribute("#time-slider", "type") == "range"
    assert page.locator("label[for='time-slider']").count() == 1
    assert _grade(page, link) != "bad"   # healthy (or stale on a busy machine), not cut
    page.wait_for_function(
        "(id) => window.sdqnTopology.cy.getElementById(id).data('status') !== 'unknown'",
        arg=node, timeout=30000)
    # the recorder follows <operational> on its own thread: the node's state is in the
    # history before the instant travelled to
    assert wait_for(lambda: setup.recorded("node", node), bool, timeout=30)
    before_ms = time.time() * 1000
    time.sleep(1)
    setup.net.world.set_cut(link, True)
    try:
        page.wait_for_function(
            "(id) => window.sdqnTopology.cy.getElementById(id).data('grade') === 'bad'",
            arg=link, timeout=30000)
        root = f"#root-alarm-list li[data-alarm-type='fibre-cut'][data-resource='{link}']"
        page.locator(root).wait_for(timeout=30000)
        page.evaluate("(ms) => window.sdqnTime.travelTo(ms)", before_ms)
        page.wait_for_selector("main[data-view='topology'][data-as-of]")
        page.wait_for_function(
            "(id) => ['good', 'fair', 'stale'].includes("
            "window.sdqnTopology.cy.getElementById(id).data('grade'))", arg=link)
        assert page.locator(root).count() == 0
        # the node coloured from its recorded state then (up, or stale on a busy machine)
        assert _status(page, node) in ("up", "degraded", "down", "testing", "stale")
        page.evaluate("(id) => window.sdqnTopology.cy.getElementById(id).emit('tap')", node)
        page.locator("#details dl").wait_for()
        details = page.inner_text("#details")
        assert "Node" in details and "no state" not in details, details
        assert _status(page, node) in details, details
        assert "As of" in page.inner_text("#time-label")
        assert "not live" in page.inner_text("#topology-asof")
        assert page.get_attribute("#time-label", "aria-live") == "polite"
        page.screenshot(path=str(artifacts / "console-time-before-cut.png"), full_page=True)
        page.click("a[data-view='alarms']")
        page.wait_for_selector("main[data-view='alarms'][data-ready='true'][data-as-of]")
        assert page.locator(f"li[data-alarm-type='fibre-cut'][data-resource='{link}']"
                            ).count() == 0
        assert page.locator("button.ack").count() == 0   # no actions on the past
        page.click("a[data-view='topology']")
        page.wait_for_selector("main[data-view='topology'][data-ready='true'][data-as-of]")
        # back to live with the keyboard: the slider's right end is "live"
        page.wait_for_function("() => document.getElementById('time-slider').value !== '1000'")
        page.focus("#time-slider")
        page.keyboard.press("End")
        page.wait_for_function("() => document.getElementById('time-label').textContent"
                               " === 'Showing live data'")
        page.wait_for_function(
            "(id) => window.sdqnTopology.cy.getElementById(id).data('grade') === 'bad'",
            arg=link, timeout=30000)
        page.locator(root).wait_for(timeout=30000)
        assert page.get_attribute("main", "data-as-of") is None
        page.screenshot(path=str(artifacts / "console-time-live.png"), full_page=True)
        assert page.errors == []
    finally:
        setup.net.world.set_cut(link, False)


def test_topology_node_states_apcs_on_their_fibre_and_a_service_path(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "admin")
    nodes = page.evaluate("""() => window.sdqnTopology.cy.nodes().map((n) => ({
        id: n.id(), kind: n.data('kind'), status: n.data('status'),
        fill: n.style('background-color'), x: n.position('x'), y: n.position('y')}))""")
    assert {n["status"] for n in nodes} <= {"up", "degraded", "down", "testing", "unknown",
                                             "stale"}
    assert page.locator("#node-legend li").count() == 7   # title + six states
    attachments = dict(page.evaluate("() => window.sdqnTopology.attachments()"))
    apcs = [n for n in nodes if n["kind"] == "apc"]
    assert apcs and sorted(attachments) == sorted(n["id"] for n in apcs)
    at = {n["id"]: n for n in nodes}
    for apc in apcs:   # near the middle of its fibre
        a, b = (at[end] for end in attachments[apc["id"]])
        mid = ((a["x"] + b["x"]) / 2, (a["y"] + b["y"]) / 2)
        assert abs(apc["x"] - mid[0]) + abs(apc["y"] - mid[1]) < 80, apc
    assert page.locator("svg.apc-overlay line.apc-attachment").count() == 2 * len(apcs)
    core = [n for n in nodes if n["kind"] != "apc"]
    closest = min(abs(p["x"] - q["x"]) + abs(p["y"] - q["y"])
                  for i, p in enumerate(core) for q in core[i + 1:])
    assert closest > 30   # the core is spread, labels do not overlap
    page.screenshot(path=str(artifacts / "console-topology-layout.png"), full_page=True)
    # the APC's details offer a calibration to an administrator
    page.evaluate("(id) => window.sdqnTopology.cy.getElementById(id).emit('tap')",
                  apcs[0]["id"])
    page.locator("#calibrate").wait_for()
    page.click("#calibrate")     # sdqn-controller:calibrate-apc, run by the emulated APC
    result = page.locator("#calibrate-result")
    result.wait_for(timeout=30000)
    answer = result.inner_text()
    assert answer.split(" (")[0] in (
        "Calibration: started", "Calibration: deferred", "Calibration: busy"), answer
    # the live view redraws the details on every update: the answer stays, with its time
    page.evaluate("() => window.sdqnTopology.refresh()")
    assert page.locator("#calibrate-result").inner_text() == answer
    assert "answered at" in answer
    # a service's admitted path
    with setup.client() as c:
        body = c.get("/restconf/ds/ietf-datastores:operational/"
                     "sdqn-services:entanglement-services").json()
    requests = body["sdqn-services:entanglement-services"]["request"]
    admitted = next(r for r in requests if len(r.get("state", {}).get("path", [])) >= 2)
    page.goto(f"{setup.url}/console/#/topology?service={admitted['name']}")
    page.reload()
    page.wait_for_selector("main[data-view='topology'][data-ready='true']")
    on_path = page.evaluate("() => window.sdqnTopology.cy.nodes('.on-path').map((n) => n.id())")
    assert sorted(on_path) == sorted(admitted["state"]["path"])
    assert page.evaluate("() => window.sdqnTopology.cy.edges('.on-path').length") == \
        len(admitted["state"]["path"]) - 1
    page.screenshot(path=str(artifacts / "console-service-path.png"), full_page=True)


def test_a_cut_fibre_no_device_measures_is_drawn_down_by_its_alarm(
        browser: Any, setup: Setup) -> None:
    """r2-r3 carries a service until a cut moves it away (self-healing is non-revertive by
    default); repaired, no device generates on it any more, so its state loses
    oper-status and generation-rate (not kept beside a fresh last-updated). Cut again,
    only the devices' fibre-cut alarm (RFC 8632) says so: the map draws it down within 5 s
    and says why."""
    link = "r2-r3"

    def measured() -> bool:
        return "oper-status" in setup.links()[link]["sdqn-topology:quantum-link"].get(
            "state", {})

    def cut_alarm() -> bool:
        return any(a["alarm-type-id"] == "sdqn-alarms:fibre-cut"
                   and f"'{link}'" in a["resource"] and not a["is-cleared"]
                   for a in setup.alarms())

    setup.net.world.set_cut(link, True)
    assert wait_for(cut_alarm, bool, 60)
    setup.net.world.set_cut(link, False)
    assert not wait_for(measured, lambda m: not m, 90), setup.links()[link]
    page = open_console(browser, setup, "admin")
    setup.net.world.set_cut(link, True)
    try:
        page.wait_for_function(
            "(id) => window.sdqnTopology.cy.getElementById(id).data('grade') === 'bad'",
            arg=link, timeout=SHOWN_WITHIN_MS)
        page.evaluate("(id) => window.sdqnTopology.cy.getElementById(id).emit('tap')", link)
        page.wait_for_selector("#details dd:text('down (fibre-cut alarm)')")
    finally:
        setup.net.world.set_cut(link, False)
    page.wait_for_function(
        "(id) => window.sdqnTopology.cy.getElementById(id).data('grade') !== 'bad'",
        arg=link, timeout=60000)
