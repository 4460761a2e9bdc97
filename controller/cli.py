"""The `sdqn` command line: one entry point for the daemon, the solver and the benchmarks.

Sub-commands live next to the code they drive; this module only wires them together so
that `sdqn --help` shows the whole product in one place.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="sdqn: software-defined quantum networking controller")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures (not tests).")
app.add_typer(bench_app, name="bench")


def _register() -> None:
    """Import command modules lazily so a broken optional part cannot break `sdqn --help`."""
    from controller.bench import datastore as bench_datastore

    bench_app.command("datastore")(bench_datastore.main)
    from controller.bench import qnum as qnum_bench
    from qnum import cli as qnum_cli

    bench_app.command("qnum")(qnum_bench.main)
    app.command("solve")(qnum_cli.solve_command)
    from controller import daemon
    from controller.bench import netconf as bench_netconf

    controller_app = typer.Typer(no_args_is_help=True, help="The controller daemon.")
    controller_app.command("run")(daemon.run)
    app.add_typer(controller_app, name="controller")
    bench_app.command("netconf")(bench_netconf.main)
    from controller.bench import southbound as southbound_bench

    bench_app.command("southbound")(southbound_bench.main)
    from controller.app import sim
    from controller.bench import sim as bench_sim

    sim_app = typer.Typer(no_args_is_help=True, help="Emulated quantum devices.")
    app.add_typer(sim_app, name="sim")
    sim_app.command("run")(sim.run_command)
    sim_app.command("fault")(sim.fault_command)
    bench_app.command("sim")(bench_sim.main)
    from controller import demo

    app.command("demo")(demo.main)
    # --- other components register here (one line each) ---
    from controller.bench import restconf as bench_restconf
    from controller.clients import commands as client

    bench_app.command("restconf")(bench_restconf.main)
    from controller.bench import heal as bench_heal

    bench_app.command("heal")(bench_heal.main)
    app.add_typer(client.request_app, name="request")
    app.add_typer(client.topology_app, name="topology")
    for name in ("alarms", "commit", "rollback", "watch"):
        app.command(name)(getattr(client, name))


_register()

if __name__ == "__main__":
    app()
