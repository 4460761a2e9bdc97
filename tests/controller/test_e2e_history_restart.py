"""The time-travel history survives the controller: the daemon managing the emulated
metro network records link samples; killed with SIGKILL (no clean-up of any kind) and
started again on the same data, its sdqn-history get-history (NETCONF) still returns the
samples recorded before the kill, and a snapshot at a moment before the kill still has
the links as they were."""

from __future__ import annotations

import time
from pathlib import Path

from lxml import etree

from tests.controller.e2e import (
    Daemon,
    edit_running,
    emulated_network,
    intent_xml,
    write_config,
)

HIST = "urn:sdqn:sdqn-history"


def history(daemon: Daemon, body: str) -> etree._Element:
    m = daemon.manager()
    try:
        return etree.fromstring(m.dispatch(etree.fromstring(body)).xml.encode())
    finally:
        m.close_session()


def link_samples(daemon: Daemon) -> list[tuple[str, str]]:
    """(time, link-id) of every link sample retained."""
    reply = history(daemon, f'<get-history xmlns="{HIST}"><kind>link</kind></get-history>')
    return [(s.findtext(f"{{{HIST}}}time") or "", s.findtext(f"{{{HIST}}}resource") or "")
            for s in reply.iter(f"{{{HIST}}}sample")]


def test_history_survives_a_kill(tmp_path: Path) -> None:
    config = write_config(tmp_path, "history")
    with emulated_network() as net:
        with Daemon(config, tmp_path / "first.log") as first:
            edit_running(first, intent_xml(net))
            deadline = time.monotonic() + 120
            while not (before := link_samples(first)) and time.monotonic() < deadline:
                time.sleep(1)
            assert before, first.log_tail()
            time.sleep(2)        # another recorder round or two, then a crash
            before = link_samples(first)
            first.kill()
        with Daemon(config, tmp_path / "second.log") as second:
            after = link_samples(second)
            assert set(before) <= set(after), (before[:3], after[:3])
            moment, link = before[0]
            snap = history(second, f'<get-snapshot xmlns="{HIST}"><time>{moment}</time>'
                                   "</get-snapshot>")
            links = {el.findtext(f"{{{HIST}}}link-id") for el in snap.iter(f"{{{HIST}}}link")}
            assert link in links, etree.tostring(snap)[:2000]
