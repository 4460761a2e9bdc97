"""The processes of `sdqn bench attack`: the attacker, the normal client, the admin probe.

Each attack is bounded in count and time and comes from 127.0.0.2 (Linux routes all of
127/8 to lo), so per-address limits can tell it from the operator on 127.0.0.1. gRPC has
no way to choose the source address, so its wrong tokens come from 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

ATTACKER = "127.0.0.2"
OPERATOR = "127.0.0.1"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
RESTCONF_GET = "/restconf/data/ietf-network:networks/network=metro/node=alice"
NETCONF_FILTER = (f'<networks xmlns="{NW}"><network><network-id>metro</network-id>'
                  "<node><node-id>alice</node-id></node></network></networks>")
TRICKLE_S = 2.0     # slowloris: one header byte per connection this often


def quiet_clients() -> None:
    """Refused and dropped sessions are the expected outcome here: paramiko and ncclient
    would print a traceback for each; the counters report them."""
    for name in ("paramiko", "ncclient"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Target:
    restconf_port: int
    netconf_port: int
    grpc_target: str

    @property
    def restconf_url(self) -> str:
        return f"http://{OPERATOR}:{self.restconf_port}"


@dataclass
class AttackReport:
    """What the attacker managed: counters by outcome, sent back to the bench."""

    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "-"


# -- attacker process ------------------------------------------------------------------------

def run_attack(kind: str, target: Target, count: int, seconds: float, ready: Event,
               out: Connection) -> None:
    """Process entry: set up one attack, then run it for `seconds`; report its counters."""
    quiet_clients()
    report = AttackReport()
    attacks: dict[str, Callable[[Target, int, float, Event, AttackReport], None]] = {
        "slowloris": _slowloris, "raw-tcp": _raw_tcp, "sessions": _sessions,
        "wrong-logins": _wrong_logins}
    try:
        attacks[kind](target, count, seconds, ready, report)
    finally:
        ready.set()
        out.send(report.counts)


def _attacker_socket(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((ATTACKER, 0))
        sock.connect((OPERATOR, port))
    except OSError:
        sock.close()
        raise
    return sock


def _hold(port: int, count: int, seconds: float, ready: Event, report: AttackReport,
          first: bytes, trickle: bytes) -> None:
    """Keep `count` connections open, sending `first` then `trickle` every TRICKLE_S;
    every connection the server closes is opened again (a persistent attacker)."""
    socks: list[socket.socket | None] = [None] * count

    def reopen(i: int) -> None:
        try:
            sock = _attacker_socket(port)
            if first:
                sock.sendall(first)
            socks[i] = sock
            report.counts["opened"] += 1
        except OSError:
            socks[i] = None
            report.counts["connect failed"] += 1

    for i in range(count):
        reopen(i)
    ready.set()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(min(TRICKLE_S, max(0.0, deadline - time.monotonic())))
            for i, sock in enumerate(socks):
                if sock is None:
                    reopen(i)
                    continue
                try:
                    sock.setblocking(False)
                    with contextlib.suppress(BlockingIOError):
                        if sock.recv(4096) == b"":
                            raise ConnectionResetError("closed by the server")
                    sock.setblocking(True)
                    if trickle:
                        sock.sendall(trickle)
                except OSError:
                    report.counts["closed by server"] += 1
                    sock.close()
                    reopen(i)
    finally:
        for sock in socks:
            if sock is not None:
                sock.close()


def _slowloris(target: Target, count: int, seconds: float, ready: Event,
               report: AttackReport) -> None:
    _hold(target.restconf_port, count, seconds, ready, report,
          b"GET /restconf HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a")


def _raw_tcp(target: Target, count: int, seconds: float, ready: Event,
             report: AttackReport) -> None:
    _hold(target.netconf_port, count, seconds, ready, report, b"", b"")


def _sessions(target: Target, count: int, seconds: float, ready: Event,
              report: AttackReport) -> None:
    """`count` operator NETCONF sessions, opened 8 at a time and held to the end."""
    from ncclient import manager

    sessions: list[Any] = []
    lock = threading.Lock()

    def open_one(_: int) -> None:
        try:
            m = manager.connect(host=OPERATOR, port=target.netconf_port, username="operator",
                                password="operator", hostkey_verify=False,
                                allow_agent=False, look_for_keys=False, timeout=30,
                                bind_addr=ATTACKER)
        except Exception:
            report.counts["session refused"] += 1
            return
        with lock:
            sessions.append(m)
        report.counts["session open"] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(open_one, range(count)))
    ready.set()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for m in sessions:
            with contextlib.suppress(Exception):
                m.close_session()


def _wrong_logins(target: Target, count: int, seconds: float, ready: Event,
                  report: AttackReport) -> None:
    """A mix of wrong passwords and tokens for admin and operator: 1 in 10 over SSH
    (a new connection each, as a password guesser must), the rest RESTCONF basic and gRPC
    bearer tokens; any accepted one is counted as such."""
    import httpx

    ready.set()
    deadline = time.monotonic() + seconds
    attempt = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        transport = httpx.HTTPTransport(local_address=ATTACKER)
        with httpx.Client(base_url=f"http://{OPERATOR}:{target.restconf_port}",
                          transport=transport, timeout=10) as http:
            stub, pb = _grpc_stub(target.grpc_target)
            while time.monotonic() < deadline:
                with lock:
                    i = next(attempt, None)
                if i is None:
                    return
                user = ("admin", "operator")[i % 2]
                kind = ("ssh" if i % 10 == 0 else "restconf" if i % 10 <= 5 else "grpc")
                try:
                    ok = _guess(kind, user, f"wrong{i}", target, http, stub, pb)
                except Exception:
                    report.counts[f"{kind} error"] += 1
                    continue
                report.counts[f"{kind} {'ACCEPTED' if ok else 'refused'}"] += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _grpc_stub(grpc_target: str) -> tuple[Any, Any]:
    import grpc

    from controller.grpc_api.stubs import load

    pb, pb_grpc = load()
    return pb_grpc.ControllerServiceStub(grpc.insecure_channel(grpc_target)), pb


def _guess(kind: str, user: str, secret: str, target: Target, http: Any, stub: Any,
           pb: Any) -> bool:
    if kind == "restconf":
        auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
        return bool(http.get("/restconf", headers={"Authorization": f"Basic {auth}"})
                    .status_code == 200)
    if kind == "grpc":
        import grpc

        try:
            stub.ListRequests(pb.ListRequestsRequest(), timeout=10,
                              metadata=[("authorization", f"Bearer {secret}")])
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                return False
            raise
        return True
    import paramiko

    sock = _attacker_socket(target.netconf_port, timeout=15)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=15)
        try:
            transport.auth_password(user, secret)
        except paramiko.AuthenticationException:
            return False
        return bool(transport.is_authenticated())
    finally:
        transport.close()


# -- normal client process -------------------------------------------------------------------

def normal_client(target: Target, seconds: float, interval: float, pipe: Connection) -> None:
    """Process entry: a keep-alive RESTCONF client and an ncclient session, opened before
    the attack starts ("ready"; the bench answers "go" once the attack is in place), each
    reading one node every `interval` s for `seconds`. Latencies (s) of the operations
    that succeeded and the count of those that failed go back: a failed one (refused,
    dropped session) is an error, not a latency."""
    quiet_clients()
    import httpx
    from ncclient import manager
    from ncclient.transport import session as ncclient_session

    # ncclient's session thread writes a queued request only after its 0.1 s select()
    # tick: left as is, every <get> would measure that client-side wait, not the server.
    ncclient_session.TICK = 0.002
    rest: list[float] = []
    nc: list[float] = []
    errors: Counter[str] = Counter()

    def connect() -> Any:
        return manager.connect(host=OPERATOR, port=target.netconf_port, username="operator",
                               password="operator", hostkey_verify=False, allow_agent=False,
                               look_for_keys=False, timeout=10)

    session: Any = None
    with httpx.Client(base_url=target.restconf_url, auth=("operator", "operator"),
                      timeout=10) as http:
        with contextlib.suppress(Exception):
            session = connect()
        http.get(RESTCONF_GET)   # the keep-alive connection is open before the attack
        pipe.send("ready")
        pipe.recv()              # "go"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = t0 = time.perf_counter()
            try:
                ok = http.get(RESTCONF_GET).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                rest.append(time.perf_counter() - t0)
            else:
                errors["restconf"] += 1
            t0 = time.perf_counter()
            try:
                if session is None:
                    session = connect()
                    t0 = time.perf_counter()   # a reconnect is counted, not timed
                session.get(filter=("subtree", NETCONF_FILTER))
                nc.append(time.perf_counter() - t0)
            except Exception:
                errors["netconf"] += 1
                with contextlib.suppress(Exception):
                    if session is not None:
                        session.close_session()
                session = None
            time.sleep(max(0.0, interval - (time.perf_counter() - start)))
        if session is not None:
            with contextlib.suppress(Exception):
                session.close_session()
    pipe.send((rest, nc, errors))


# -- admin probe (bench process) -------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    ok: bool
    seconds: float

    def cell(self) -> str:
        return f"{'ok' if self.ok else 'FAILED'} ({self.seconds:.2f} s)"


def admin_ssh(target: Target) -> Probe:
    """A new NETCONF session as admin, as a recovering operator would open one."""
    from ncclient import manager

    t0 = time.perf_counter()
    try:
        with manager.connect(host=OPERATOR, port=target.netconf_port, username="admin",
                             password="admin", hostkey_verify=False, allow_agent=False,
                             look_for_keys=False, timeout=10) as m:
            m.get(filter=("subtree", NETCONF_FILTER))
        ok = True
    except Exception:
        ok = False
    return Probe(ok, time.perf_counter() - t0)


def admin_restconf(target: Target) -> Probe:
    """A RESTCONF request as admin on a fresh connection."""
    import httpx

    t0 = time.perf_counter()
    try:
        with httpx.Client(base_url=target.restconf_url, auth=("admin", "admin"),
                          timeout=10) as http:
            ok = http.get(RESTCONF_GET).status_code == 200
    except httpx.HTTPError:
        ok = False
    return Probe(ok, time.perf_counter() - t0)


def p50_p99(samples: list[float]) -> str:
    if not samples:
        return "-"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p99 * 1000:.1f}"
