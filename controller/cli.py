"""The `sdqn` command line: one entry point for the daemon, the solver and the benchmarks.

Sub-commands live next to the code they drive; this module only names them, so that
`sdqn --help` shows the whole product in one place. Nothing here imports a command
module: each one is imported when its command runs (`controller/lazy_commands.py`), which
keeps `sdqn --help` and the gRPC client commands free of OR-Tools, libyang and networkx.
"""

from __future__ import annotations

from controller.lazy_commands import Lazy, lazy_app

_CLIENT = "controller.clients.commands"

app = lazy_app("sdqn: software-defined quantum networking controller", {
    "solve": Lazy("qnum.cli:solve_command",
                  "Solve Q-NUM for the given topology and requests and print the plan."),
    "demo": Lazy("controller.demo:main",
                 "Run the controller on the emulated metro network and show what it decided."),
    "alarms": Lazy(f"{_CLIENT}:alarms", "The alarm list (RFC 8632) of the controller."),
    "commit": Lazy(f"{_CLIENT}:commit",
                   "Commit the candidate (Q-NUM expansion, device push), or --dry-run it."),
    "optimise": Lazy(f"{_CLIENT}:optimise", "Re-optimise: live services move only as their "
                     "live-move policy allows."),
    "rollback": Lazy(f"{_CLIENT}:rollback",
                     "Put running back as it was before a commit made through the API."),
    "commits": Lazy(f"{_CLIENT}:commits_app", "The commit history: every change of running, "
                                               "whichever interface made it."),
    "drill": Lazy(f"{_CLIENT}:drill_app", "Training drills: a hidden fault on the emulated "
                                          "network, localised and scored."),
    "watch": Lazy(f"{_CLIENT}:watch", "Stream alarm, service-state, configuration and "
                                      "fibre state changes (all by default)."),
    "bench": lazy_app("Benchmarks that print figures (not tests).", {
        "datastore": Lazy("controller.bench.datastore:main",
                          "Print the datastore's figures in-process and through NETCONF and "
                          "RESTCONF."),
        "qnum": Lazy("controller.bench.qnum:main",
                     "Benchmark Q-NUM against the baselines on random and real topologies."),
        "netconf": Lazy("controller.bench.netconf:main",
                        "Print RPC/s and p50/p99 latency for get-data and edit-data+commit."),
        "southbound": Lazy("controller.bench.southbound:main", "Print commit latency (p50) "
                           "and RPC/s per session, ours vs stock ncclient."),
        "sim": Lazy("controller.bench.sim:main", "Start N emulated devices; report start "
                    "time, memory and get-data latency."),
        "restconf": Lazy("controller.bench.restconf:main", "Print requests/s and p50/p99 "
                         "latency for GET of a request's state and PATCH+commit."),
        "heal": Lazy("controller.bench.heal:main",
                     "Time from a fibre-cut notification to every affected service re-routed "
                     "and\ncommitted, on an emulated network (targets: median ≤ 1 s, max "
                     "≤ 2 s, 0 unaffected\nservices touched)."),
        "change": Lazy("controller.bench.change:main",
                       "Random operator changes on the emulated 100-device network: live "
                       "services moved,\nhard switches, moves predicted by the dry-run, "
                       "commit latency, interruption seen on\nthe devices."),
        "faults": Lazy("controller.bench.faults:main",
                       "Inject every fault kind on the emulated metro network (emulators and "
                       "controller\ndaemon in their own processes) and report detection, "
                       "correlation, service states,\nclear latency, spurious alarms and the "
                       "daemon's CPU."),
        "physics": Lazy("controller.bench.physics:main",
                        "Predicted (chain model) vs SeQUeNCe rate and fidelity of 1-, 2- and "
                        "3-link chains\n(targets: rate within 10 %, fidelity within 0.01)."),
        "attack": Lazy("controller.bench.attack:main",
                       "Normal-client RESTCONF/NETCONF latency and admin login while the "
                       "daemon is attacked\n(slowloris, raw TCP, held sessions, wrong "
                       "logins; targets: admin always in, p99 ≤ 100 ms)."),
        "slices": Lazy("controller.bench.slices:main",
                       "SLO compliance, Σ w·U vs the same requests unsliced, fragmentation "
                       "and solve time\nof slices (in-process, on the solver)."),
        "console": Lazy("controller.bench.console:main",
                        "Web console page load and event-to-screen latency (headless "
                        "chromium) on an emulated\n100-device network with 100 services, "
                        "the metro network as peer."),
    }),
    "controller": lazy_app("The controller daemon.", {
        "run": Lazy("controller.daemon:run", "Run the controller daemon until interrupted."),
    }),
    "sim": lazy_app("Emulated quantum devices.", {
        "run": Lazy("controller.app.sim:run_command", "Start every device of a topology as "
                    "a NETCONF server and keep them running."),
        "fault": Lazy("controller.app.sim:fault_command", "Inject a fault into a running "
                      "`sdqn sim run` (through its control channel)."),
    }),
    "tls": lazy_app("Certificates for TLS on RESTCONF and gRPC.", {
        "self-signed": Lazy("controller.app.tls:self_signed", "Create a lab CA, a server "
                            "and a client certificate (PEM, keys 0600) in OUT."),
    }),
    "request": Lazy(f"{_CLIENT}:request_app", "Entanglement service requests."),
    "topology": Lazy(f"{_CLIENT}:topology_app", "The configured network."),
})

if __name__ == "__main__":
    app()
