"""The `sdqn` command table: every command listed, help from the table matching the
command's own, and no heavy import for help or a client command's start-up."""

from __future__ import annotations

import inspect
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.lazy_commands import Lazy, LazyCommand, LazyGroup
from controller.paths import REPO_ROOT

COMMANDS = {
    "": ["solve", "demo", "alarms", "commit", "optimise", "rollback", "commits", "drill",
         "watch",
         "bench",
         "controller", "sim", "tls", "request", "topology"],
    "bench": ["datastore", "qnum", "netconf", "southbound", "sim", "restconf", "heal", "change",
              "faults", "physics", "attack", "slices", "console"],
    "controller": ["run"],
    "sim": ["run", "fault"],
    "tls": ["self-signed"],
    "request": ["add", "modify", "withdraw", "list", "show"],
    "topology": ["show"],
    "commits": ["list", "show", "diff", "rollback"],
    "drill": ["start", "submit", "end", "list"],
}
HEAVY = ("ortools", "libyang", "networkx", "grpc")


def _listed(args: list[str]) -> list[str]:
    """Command names in the Commands panel of `sdqn <args> --help`."""
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    panel = result.output.split("─ Commands ─", 1)[1]
    return [line.split()[1] for line in panel.splitlines()
            if line.startswith("│") and len(line.split()) > 1 and line[2] != " "]


@pytest.mark.parametrize("group", list(COMMANDS))
def test_help_lists_every_command(group: str) -> None:
    assert _listed(group.split()) == COMMANDS[group]


def _lazy_entries() -> Iterator[tuple[str, Lazy]]:
    import typer.main

    def walk(group: Any, prefix: str) -> Iterator[tuple[str, Lazy]]:
        for name, command in group.commands.items():
            if isinstance(command, LazyCommand):
                yield f"{prefix}{name}", command.entry
            elif isinstance(command, LazyGroup):
                yield from walk(command, f"{prefix}{name} ")

    yield from walk(typer.main.get_command(app), "")


@pytest.mark.parametrize(("name", "entry"), list(_lazy_entries()))
def test_table_help_is_the_commands_own(name: str, entry: Lazy) -> None:
    """The listing shows the table's line without importing; it must be the first
    paragraph of the help the command itself carries (its docstring or Typer help)."""
    command = LazyCommand(name, entry).load()
    assert entry.help == inspect.cleandoc(command.help or "").split("\n\n")[0]


def _modules_after(code: str) -> set[str]:
    """Top-level packages imported by `code` in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=60, check=True)
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_importing_the_cli_imports_no_command_module() -> None:
    loaded = _modules_after("import controller.cli")
    assert not loaded & {*HEAVY, "rich", "qnum", "simulators", "southbound"}


@pytest.mark.parametrize("args", [["--help"], ["request", "list", "--help"],
                                  ["bench", "--help"], ["sim", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    loaded = _modules_after(f"""
        from controller.cli import app
        try:
            app({args!r})
        except SystemExit:
            pass
    """)
    assert not loaded & set(HEAVY)


def test_client_command_imports_no_server_side() -> None:
    """A client command needs gRPC, nothing of the controller's engine or solver."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]   # closed again: the call fails UNAVAILABLE
    loaded = _modules_after(f"""
        from controller.cli import app
        try:
            app(["request", "list", "--json", "--target", "127.0.0.1:{port}"])
        except SystemExit:
            pass
    """)
    assert "grpc" in loaded
    assert not loaded & {"ortools", "libyang", "networkx", "rich", "qnum", "numpy"}
