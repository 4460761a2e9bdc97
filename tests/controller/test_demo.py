"""`sdqn demo` runs the real controller on the emulated network: its decisions are readable
over NETCONF, every device received its configuration, and the fibre cut it injects
shows up as one root alarm and a re-route."""

from __future__ import annotations

import os
import subprocess
import sys

from lxml import etree

from controller.paths import REPO_ROOT
from southbound.transport import connect

SVC = "urn:sdqn:sdqn-services"


def test_demo_serves_decisions_over_netconf() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "demo", "--duration", "20", "--port", "0",
         "--time-limit", "5", "--cut-after", "1"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        assert demo.stdout is not None
        first = demo.stdout.readline()
        assert first.startswith("netconf listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        lines: list[str] = []
        while not lines or not lines[-1].startswith("NETCONF:"):  # device table, then plan
            line = demo.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert any("Q-NUM" in line for line in lines), "".join(lines)
        while not lines[-1].startswith("controller: root cause"):
            line = demo.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert "['r1-r2']" in lines[-1] and "re-routed ['qkd-alice-bob']" in lines[-1]
        manager = connect(host="127.0.0.1", port=port, username="admin", password="admin")
        try:
            reply = manager.dispatch(etree.fromstring(
                '<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
                'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                "<datastore>ds:operational</datastore>"
                '<xpath-filter xmlns:svc="urn:sdqn:sdqn-services">'
                "/svc:entanglement-services</xpath-filter></get-data>"))
            sessions = manager.dispatch(etree.fromstring(
                '<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
                'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                "<datastore>ds:operational</datastore>"
                '<xpath-filter xmlns:c="urn:sdqn:sdqn-controller">'
                "/c:controller/c:southbound</xpath-filter></get-data>"))
            alarms = manager.dispatch(etree.fromstring(
                '<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
                'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                "<datastore>ds:operational</datastore>"
                '<xpath-filter xmlns:al="urn:ietf:params:xml:ns:yang:ietf-alarms">'
                "/al:alarms/al:alarm-list</xpath-filter></get-data>"))
        finally:
            manager.close_session()
        al = "urn:ietf:params:xml:ns:yang:ietf-alarms"
        active = sorted(a.findtext(f"{{{al}}}alarm-type-id").split(":")[-1]
                        for a in etree.fromstring(alarms.xml.encode()).iter(f"{{{al}}}alarm")
                        if a.findtext(f"{{{al}}}is-cleared") == "false")
        assert active == ["fibre-cut", "service-rerouted"], active
        root = etree.fromstring(reply.xml.encode())
        admissions = {r.findtext(f"{{{SVC}}}name"):
                      r.findtext(f"{{{SVC}}}state/{{{SVC}}}admission")
                      for r in root.iter(f"{{{SVC}}}request")}
        assert admissions["qkd-alice-bob"] == "admitted"
        assert admissions["dqs-alice-dave"] == "rejected"   # F ≥ 0.99 is out of reach
        assert len(admissions) == 4
        ctl = "urn:sdqn:sdqn-controller"
        devices = {d.findtext(f"{{{ctl}}}node-id"): d.findtext(f"{{{ctl}}}sync-state")
                   for d in etree.fromstring(sessions.xml.encode()).iter(f"{{{ctl}}}device")}
        assert len(devices) == 11 and set(devices.values()) == {"in-sync"}, devices
    finally:
        demo.terminate()
        demo.wait(timeout=15)
    assert demo.returncode == 0


def test_demo_tables_print_key_predicates_as_text() -> None:
    """A reason such as request[name='x'] is server text, not rich markup."""
    from rich.console import Console
    from rich.table import Table

    from controller.demo import _row

    table = Table()
    table.add_column("reason")
    _row(table, "no path for request[name='qkd-a'] [bold]")
    console = Console(record=True, width=200)
    console.print(table)
    assert "request[name='qkd-a'] [bold]" in console.export_text()
