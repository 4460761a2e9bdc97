"""Fixtures: the RESTCONF server of the RESTCONF tests with the console mounted, and the
folder browser screenshots are saved to (tests/artifacts/, gitignored)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.console.site import ConsoleSite
from controller.paths import REPO_ROOT
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from tests.controller.restconf import conftest as restconf_fixtures

# the RESTCONF tests' store, NETCONF server (accounts, NACM), data access and event hub
schema = restconf_fixtures.schema
store = restconf_fixtures.store
netconf = restconf_fixtures.netconf
access = restconf_fixtures.access
hub = restconf_fixtures.hub

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


@pytest.fixture
def console_server(access: DataAccess, hub: EventHub) -> Iterator[RestconfServer]:
    srv = RestconfServer(access, hub=hub, sse_heartbeat_s=0.2, console=ConsoleSite(access))
    srv.start()
    yield srv
    srv.stop()


CHROMIUM = Path("/usr/bin/chromium")
#: browser contexts a test opened (`console_page`), closed after it: each holds an event
#: stream and keep-alive connections, and the server admits 32 per address
OPENED: list[Any] = []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless chromium, driven by Playwright (no browser build is downloaded),
    one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail("the console tests need Debian's chromium (make system-deps)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def console_page(browser: Any, user: str = "admin") -> Any:
    """A page in a new browser context logged in as `user` (its password is its name, as
    in the tests' accounts); the context is closed after the test."""
    context = browser.new_context(http_credentials={"username": user, "password": user},
                                  viewport={"width": 1280, "height": 900})
    OPENED.append(context)
    return context.new_page()


@pytest.fixture(autouse=True)
def close_browser_contexts() -> Iterator[None]:
    """Every console page a test opened is closed when it ends, so that its connections
    (an SSE stream, keep-alives) do not pile up against the server's per-address limit
    over a module's tests."""
    yield
    while OPENED:
        with contextlib.suppress(Exception):   # the browser itself is gone already
            OPENED.pop().close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
