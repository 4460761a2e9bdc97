"""The services, commits and slices views in a real browser (Playwright driving Debian's
headless chromium) against the controller daemon with RESTCONF on, managing the emulated
metro network with the demo's requests and its two tenants' slices: every request listed
with its state and history charts; a dry-run shows the impact and changes nothing; a
commit and its rollback round-trip; a read-only user gets no change controls and a forged
rollback-to is refused (RFC 8341 access-denied, RFC 8040 §7) with nothing changed; both
demo slices shown compliant. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.app.intent import with_slicing
from controller.datastore.schema import Schema
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES
from simulators.launcher import Network
from tests.controller.console.test_browser import (
    JSON,
    Setup,
    console_daemon,
    open_console,
)
from tests.controller.e2e import convert

SERVICES = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
SLICING = json.loads((CONFIG_DIR / "services" / "demo-slices.json").read_text())
REQUESTS = sorted(r["name"] for r in SERVICES["sdqn-services:entanglement-services"]["request"])
SLICES = sorted(s["name"] for s in SLICING["sdqn-slices:slicing"]["slice"])
OPS = "/restconf/operations/sdqn-controller:"
SLICING_PATH = "/restconf/ds/ietf-datastores:operational/sdqn-slices:slicing"
#: a new request the change form adds (bob to dave is served over the metro core)
NEW = "console-bob-dave"
CHANGE = {"sdqn-services:entanglement-services": {"request": [{
    "name": NEW, "source-node": "bob", "destination-node": "dave",
    "application": "sdqn-types:qkd", "min-fidelity": "0.85", "demanded-rate": "5.0",
    "weight": "1.0", "priority": 1}]}}


def intent_with_slices(net: Network) -> str:
    """Topology (with the emulators' ports), the demo requests and the demo slicing, as
    NETCONF XML through the controller's schema."""
    ports = {d["node-id"]: d["port"] for d in net.inventory()["devices"]}
    topology = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        node["sdqn-topology:quantum-node"]["management"]["port"] = ports[node["node-id"]]
    payload = json.dumps({**topology, **with_slicing(SERVICES, SLICING)})
    return convert(Schema(list(PRODUCT_MODULES)).ctx, payload, "json", "xml")


def slices_compliant(setup: Setup) -> bool:
    with setup.client() as c:
        body = c.get(SLICING_PATH).json()
    slices = body["sdqn-slices:slicing"].get("slice", [])
    return sorted(s["name"] for s in slices) == SLICES and all(
        o.get("compliant") is True
        for s in slices for o in s.get("state", {}).get("slo", [])) and all(
        s.get("state", {}).get("slo") for s in slices)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with console_daemon(tmp_path_factory.mktemp("console-views"), intent_with_slices) as found:
        deadline = time.monotonic() + 180
        while not slices_compliant(found):   # every slice objective measured and met
            assert time.monotonic() < deadline, found.daemon.log_tail()
            time.sleep(1)
        yield found


def operation(c: httpx.Client, rpc: str, members: dict[str, Any]) -> httpx.Response:
    return c.post(OPS + rpc, json={"sdqn-controller:input": members},
                  headers={"Content-Type": JSON})


class Running:
    """What a change would alter: running's content and entity-tag (RFC 8040 §3.4.1.2)
    and the head of the commit history."""

    def __init__(self, setup: Setup) -> None:
        with setup.client() as c:
            response = c.get("/restconf/ds/ietf-datastores:running")
            self.content = response.json()["ietf-restconf:data"]
            self.etag = response.headers.get("etag")
            self.commits = operation(c, "list-commits", {"limit": 5}).json()[
                "sdqn-controller:output"]["commit"]

    @property
    def head(self) -> dict[str, Any]:
        return dict(self.commits[0])

    def requests(self) -> list[str]:
        services = self.content.get("sdqn-services:entanglement-services", {})
        names = sorted(r["name"] for r in services.get("request", []))
        assert names, "running has no requests"
        return names

    def same_as(self, other: Running) -> bool:
        return (self.content, self.etag, self.head) == (other.content, other.etag, other.head)


def test_services_view_lists_every_demo_request_with_state(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "admin", "services")
    rows = page.locator("#service-table tbody tr")
    assert sorted(rows.evaluate_all("(rs) => rs.map((r) => r.dataset.service)")) == REQUESTS
    states = page.locator("#service-table td.state").evaluate_all(
        "(cs) => cs.map((c) => c.dataset.state)")
    assert len(states) == len(REQUESTS) and all(s and s != "unknown" for s in states)
    first = REQUESTS[0]
    link = page.locator(f"#service-table tr[data-service='{first}'] a")
    assert link.get_attribute("href") == f"#/topology?service={first}"
    page.locator(f"button[aria-label='Charts of {first}']").click()
    page.wait_for_selector(f"#charts-h:text('History of {first}')")
    page.wait_for_selector("#rate-chart canvas")
    page.wait_for_selector("#fidelity-chart canvas")
    assert int(page.get_attribute("#service-charts", "data-samples") or 0) > 0
    page.screenshot(path=str(artifacts / "console-services.png"), full_page=True)
    assert page.errors == []


def test_dry_run_shows_the_impact_and_changes_nothing(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    before = Running(setup)
    page = open_console(browser, setup, "admin", "commits")
    page.fill("#change-body", json.dumps(CHANGE))
    page.click("#dry-run")
    page.wait_for_selector("#impact-services, #impact-box .error", timeout=60000)
    assert page.locator("#impact-box .error").count() == 0, page.inner_text("#impact-box")
    assert page.locator(f"#impact-services tr[data-service='{NEW}']").count() == 1
    assert "devices change" in page.inner_text("#impact-totals")
    page.screenshot(path=str(artifacts / "console-dry-run.png"), full_page=True)
    after = Running(setup)
    assert after.same_as(before)
    assert NEW not in after.requests()
    with setup.client() as c:   # the candidate was discarded again: it follows running
        candidate = c.get("/restconf/ds/ietf-datastores:candidate").json()
    assert candidate["ietf-restconf:data"] == after.content
    assert page.errors == []


def test_dry_run_leaves_someone_elses_candidate_edits_alone(
        browser: Any, setup: Setup) -> None:
    """The candidate is shared: with another session's uncommitted edit in it, a plain
    change is previewed inline (the candidate neither read nor touched: the other edit
    is not in the impact and is still there), and a YANG Patch, which would need the
    candidate, is refused rather than discard that edit."""
    other_name = "someone-elses-edit"
    other = json.loads(json.dumps(CHANGE).replace(NEW, other_name))
    candidate = "/restconf/ds/ietf-datastores:candidate"
    with setup.client() as c:
        assert c.patch(candidate, json={"ietf-restconf:data": other},
                       headers={"Content-Type": JSON}).is_success
        held = c.get(candidate).json()
    try:
        before = Running(setup)
        page = open_console(browser, setup, "admin", "commits")
        page.fill("#change-body", json.dumps(CHANGE))
        page.click("#dry-run")
        page.wait_for_selector("#impact-box[data-result='dry-run'], #impact-box .error",
                               timeout=60000)
        assert page.locator("#impact-box .error").count() == 0, page.inner_text("#impact-box")
        assert page.locator(f"#impact-services tr[data-service='{NEW}']").count() == 1
        assert page.locator(f"#impact-services tr[data-service='{other_name}']").count() == 0
        with setup.client() as c:
            assert c.get(candidate).json() == held      # the other edit is still there
        assert Running(setup).same_as(before)
        patch = {"ietf-yang-patch:yang-patch": {"patch-id": "p", "edit": [{
            "edit-id": "e", "operation": "merge",
            "target": f"/sdqn-services:entanglement-services/request={NEW}",
            "value": {"sdqn-services:request": CHANGE["sdqn-services:entanglement-services"]
                      ["request"]}}]}}
        page.evaluate("() => { delete document.querySelector('#impact-box').dataset.result; }")
        page.fill("#change-body", json.dumps(patch))
        page.click("#dry-run")
        page.wait_for_selector("#impact-box .error", timeout=60000)
        assert "uncommitted edits" in page.inner_text("#impact-box")
        with setup.client() as c:
            assert c.get(candidate).json() == held
    finally:
        with setup.client() as c:
            c.post("/restconf/operations/ietf-netconf:discard-changes",
                   json={"ietf-netconf:input": {}}, headers={"Content-Type": JSON})


def test_commit_then_rollback_round_trips(browser: Any, setup: Setup,
                                          artifacts: Path) -> None:
    before = Running(setup)
    page = open_console(browser, setup, "admin", "commits")
    page.fill("#change-body", json.dumps(CHANGE))
    page.fill("#change-label", "add bob-dave")
    page.fill("#change-comment", "customer trial")
    page.click("#commit")
    page.wait_for_selector("#impact-box[data-result='committed']", timeout=60000)
    committed = Running(setup)
    assert NEW in committed.requests()
    assert committed.head["id"] != before.head["id"]
    # the label and comment are kept with the change (a YANG Patch's patch-id and comment)
    assert (committed.head["label"], committed.head["comment"], committed.head["user"]) \
        == ("add bob-dave", "customer trial", "admin")
    row = page.locator(f"#commit-table tr[data-commit='{committed.head['id']}']")
    row.wait_for()
    row.locator("button.show").click()
    page.wait_for_selector(f"#commit-detail[data-commit='{committed.head['id']}']")
    assert NEW in page.inner_text("#commit-detail")
    # what the commit did to each device: the rows are the server's show-commit devices
    with setup.client() as c:
        shown = c.post("/restconf/operations/sdqn-controller:show-commit",
                       json={"sdqn-controller:input": {"id": committed.head["id"]}},
                       headers={"Content-Type": JSON}).json()["sdqn-controller:output"]
    pushed = {d["node-id"] for d in shown["device"]}
    assert pushed, shown            # admitting the new request configures its path
    rows = page.locator("#commit-devices tr[data-device]")
    assert {rows.nth(i).get_attribute("data-device") for i in range(rows.count())} == pushed
    # and the impact it had when it was committed: the new request, added
    added = page.locator(f"#commit-impact-view-services tr[data-service='{NEW}']")
    assert added.count() == 1 and "added" in added.inner_text()
    assert [s["change"] for s in shown["impact"]["service"] if s["name"] == NEW] == ["added"]
    page.screenshot(path=str(artifacts / "console-commit-devices.png"), full_page=True)
    row.locator("button.rollback").click()
    page.wait_for_selector("#commit-status .done")
    after = Running(setup)
    assert after.requests() == before.requests()
    assert after.content == before.content
    assert after.head["kind"] == "rollback"
    page.screenshot(path=str(artifacts / "console-rollback.png"), full_page=True)
    assert page.errors == []


def test_a_refused_commit_shows_the_servers_error_and_changes_nothing(
        browser: Any, setup: Setup) -> None:
    """The commit is a YANG Patch: the server's refusal comes back as a yang-patch-status
    (RFC 8072 §2.5), whose error the console shows with its tag and the edit it names."""
    before = Running(setup)
    dangling = json.loads(json.dumps(CHANGE).replace('"dave"', '"no-such-node"'))
    page = open_console(browser, setup, "admin", "commits")
    page.fill("#change-body", json.dumps(dangling))
    page.click("#commit")
    page.wait_for_selector("#impact-box .error", timeout=60000)
    box = page.locator("#impact-box .error")
    assert box.get_attribute("data-error-tag") == "data-missing", page.inner_text("#impact-box")
    assert "edit merge-1" in box.inner_text()
    assert Running(setup).same_as(before)
    # the only message in the browser's console is the 409 the page was told to expect
    assert all("409" in message for message in page.errors), page.errors


def test_read_only_user_has_no_change_controls_and_a_forged_rollback_is_refused(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "operator", "commits")
    for selector in ("#change-form", "#dry-run", "#commit", "button.rollback", "textarea"):
        assert page.locator(selector).count() == 0, selector
    before = Running(setup)
    forged = page.evaluate("""async (id) => {
        const res = await fetch('/restconf/operations/sdqn-controller:rollback-to', {
            method: 'POST', headers: {'Content-Type': 'application/yang-data+json',
                                      'Accept': 'application/yang-data+json'},
            body: JSON.stringify({'sdqn-controller:input': {id}})});
        return {status: res.status, body: await res.text()};
    }""", before.head["id"])
    assert forged["status"] == 403, forged
    error = json.loads(forged["body"])["ietf-restconf:errors"]["error"][0]
    assert error["error-tag"] == "access-denied"
    assert Running(setup).same_as(before)
    page.screenshot(path=str(artifacts / "console-commits-read-only.png"), full_page=True)


def test_slices_view_shows_both_demo_slices_compliant(
        browser: Any, setup: Setup, artifacts: Path) -> None:
    page = open_console(browser, setup, "admin", "slices")
    shown = page.locator("section.slice").evaluate_all(
        "(ss) => ss.map((s) => [s.dataset.slice, s.dataset.compliant])")
    assert sorted(shown) == [[name, "true"] for name in SLICES]
    for name in SLICES:
        card = page.locator(f"section.slice[data-slice='{name}']")
        assert card.locator("td[data-compliant='true']").count() >= 1
        assert card.locator("td[data-compliant='false']").count() == 0
        assert "Tenant" in card.inner_text()
    page.screenshot(path=str(artifacts / "console-slices.png"), full_page=True)
    assert page.errors == []


def test_every_control_is_labelled_and_reachable_by_keyboard(
        browser: Any, setup: Setup) -> None:
    for view in ("services", "commits", "slices"):
        page = open_console(browser, setup, "admin", view)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
                'main button, main a, main textarea, main input')].filter((e) => {
            const label = e.getAttribute('aria-label') || e.textContent.trim()
                || (e.id && document.querySelector(`label[for="${e.id}"]`));
            return !label || e.tabIndex < 0;
        }).map((e) => e.outerHTML)""")
        assert unlabelled == [], (view, unlabelled)
        page.close()
    page = open_console(browser, setup, "admin", "commits")
    page.focus("a[data-view='slices']")   # the last nav item; the view's controls follow
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement.id"))
    assert {"change-body", "dry-run", "commit"} <= reached
