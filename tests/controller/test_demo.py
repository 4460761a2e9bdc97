"""`sdqn demo` runs the real controller on the emulated network: its decisions are readable
over NETCONF, every device received its configuration, and the fibre cut it injects
shows up as one root alarm and a re-route. Its two tenants' slices show their SLO
compliance before and after the cut (the QKD guarantee holds on the detour), on an
80-column terminal."""

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
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "80"})
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
        _assert_slices_compliant(lines)
        while not lines[-1].startswith("controller: root cause"):
            line = demo.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert "['r1-r2']" in lines[-1] and "re-routed ['qkd-alice-bob']" in lines[-1]
        after: list[str] = []
        while not after or not after[-1].startswith("slice-sla-violation alarms"):
            line = demo.stdout.readline()
            assert line, "".join(lines + after)
            after.append(line)
        assert "  qkd-alice-bob: alice›r1›qr1›r2›bob\n" in after, "".join(after)
        _assert_slices_compliant(after)
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


def _assert_slices_compliant(lines: list[str]) -> None:
    """The slice view (read from <operational>): both tenants' slices with every objective
    measured and met, guarantees in force, no SLA alarm; nothing wider than 80 columns."""
    text = "".join(lines)
    assert all(len(line.rstrip("\n")) <= 80 for line in lines), text
    assert "slice qkd-metro  tenant qkd-operator  dedicated  guarantees in force\n" in text
    assert "slice research-dqc  tenant research-lab  shared  guarantees in force\n" in text
    objectives = [line.split() for line in lines if line.startswith("  ") and
                  line.split()[:1] in (["guaranteed-rate"], ["aggregate-rate"],
                                       ["min-fidelity"])]
    assert [o[0] for o in objectives] == ["guaranteed-rate", "min-fidelity",
                                          "aggregate-rate", "min-fidelity"], text
    for objective in objectives:   # name target ≥T measured M compliant yes at HH:MM:SS
        assert objective[1:2] + objective[3:4] + objective[5:7] == \
            ["target", "measured", "compliant", "yes"], text
        assert float(objective[4]) >= float(objective[2].lstrip("≥")), text
        assert objective[7] == "at" and len(objective[8].split(":")) == 3, text
    assert "slice-sla-violation alarms: none active\n" in text


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


def printed_commands(lines: list[str]) -> list[str]:
    """The shell commands of the demo's hints: a line "  $ cmd", continued while it ends
    with a backslash (joined as a shell joins them)."""
    commands: list[str] = []
    current: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if current is None and line.lstrip().startswith("$ "):
            current = [line.lstrip()[2:]]
        elif current is not None:
            current.append(line)
        if current is not None and not line.endswith("\\"):
            commands.append("\n".join(current))
            current = None
    return commands


def test_demo_every_printed_command_works() -> None:
    """`sdqn demo` serves NETCONF, RESTCONF (console URL) and gRPC; each client command
    it prints runs as printed, in a shell, and succeeds."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "demo", "--duration", "300", "--port", "0",
         "--restconf-port", "0", "--grpc-port", "0", "--time-limit", "5", "--cut-link", ""],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "80"})
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        while not lines or "never ships them" not in lines[-1]:
            line = demo.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        hints = lines[next(i for i, ln in enumerate(lines) if ln.startswith("NETCONF:")):]
        assert all(len(line.rstrip("\n")) <= 80 for line in hints), "".join(hints)
        assert any(line.startswith("console: http://127.0.0.1:") and "/console" in line
                   for line in hints), "".join(hints)
        commands = printed_commands(hints)
        tools = ["netconf-console2", "curl", "sdqn alarms", "sdqn request list"]
        assert [next(t for t in tools if t in c) for c in commands] == tools, commands
        for command in commands:
            done = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, text=True,
                                  capture_output=True, timeout=120)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            assert "qkd-alice-bob" in done.stdout or "alarms" in done.stdout, \
                (command, done.stdout)
    finally:
        demo.terminate()
        demo.wait(timeout=15)
    assert demo.returncode == 0
