"""Debian's yuma123 `netconfd` as the datastore benchmark's measured peer.

`NetconfdPeer` starts `netconfd` on loopback with its own state in a temporary directory
(socket, startup file, log, $HOME), loaded with `entries` list entries of the module in
`peer_yang/` through a generated startup file, and reaches it the way its users do:
OpenSSH's `sshd` on a free 127.0.0.1 port runs yuma's `netconf-subsystem` relay for the
`netconf` subsystem (RFC 6242), public-key authentication of the current user with a
generated key. Where `/usr/sbin/sshd` is missing the transport is "relay": each client
starts `netconf-subsystem` itself and speaks NETCONF over its stdin/stdout; a bench
labels such rows with `transport`. The current user is netconfd's superuser, so its
NACM (RFC 8341) is not evaluated.

A netconfd runs with one writable target: `target="running"` (:writable-running, every
edit-config persists running) or `target="candidate"` (:candidate, <commit> persists
running); `edit_ops` gives the RPC bodies of one edit either way, so the two edit
figures come from two peers. `cpu_seconds()` is the CPU of every process serving the
peer, from /proc: netconfd, sshd with its per-connection processes and their
subsystem relays (exited ones count through their parents' reaped-children times), or,
with the relay transport, the relays alive at the time of reading (a relay's CPU leaves
the account when its session closes: read both ends of a window with sessions open);
`cpu_breakdown()` splits it into netconfd and transport. /proc counts in clock ticks
(10 ms), so a window needs many operations.

Usage:

    with NetconfdPeer(entries=1000, target="candidate") as peer:
        client = peer.connect()            # or peer.endpoint.connect() in another process
        before = peer.cpu_seconds()
        for body in peer.edit_ops("e7", "rate", "12.5"):
            client.rpc(body)
        cpu = peer.cpu_seconds() - before
        client.close()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import paramiko
import structlog
from lxml import etree

from controller.bench.proc_cpu import descendants, process_table, tree_cpu_seconds
from controller.netconf.client import (
    NC_NS,
    NetconfRpcClient,
    PipeNetconfClient,
    RawNetconfClient,
)

log = structlog.get_logger(__name__)

NETCONFD = Path("/usr/sbin/netconfd")
NETCONF_SUBSYSTEM = Path("/usr/sbin/netconf-subsystem")
SSHD = Path("/usr/sbin/sshd")
#: Where sshd, started as root, insists on its privilege-separation chroot (OpenSSH's
#: compiled-in _PATH_PRIVSEP_CHROOT_DIR on Debian; its service unit creates it at boot).
SSHD_PRIVSEP_DIR = Path("/run/sshd")

PEER_YANG = Path(__file__).resolve().parent / "peer_yang" / "sdqn-bench-peer.yang"
PEER_NS = "urn:sdqn:sdqn-bench-peer"
#: The ncx-connect port a relay started without sshd claims (netconfd accepts only the
#: ports given with --port; 830 is NETCONF over SSH, RFC 6242 §3).
RELAY_PORT = 830

Target = Literal["running", "candidate"]
Transport = Literal["ssh", "relay"]
EditedLeaf = Literal["rate", "coherence-time"]

#: An empty subtree filter selects nothing (RFC 6241 §6.4.2): the protocol floor.
EMPTY_GET = f'<get xmlns="{NC_NS}"><filter type="subtree"/></get>'
COMMIT = f'<commit xmlns="{NC_NS}"/>'


def netconfd_available() -> bool:
    """netconfd and its relay are installed (Debian package `netconfd`)."""
    return os.access(NETCONFD, os.X_OK) and os.access(NETCONF_SUBSYSTEM, os.X_OK)


def entry_name(index: int) -> str:
    return f"e{index}"


def get_config_entry(name: str) -> str:
    """get-config of running selecting one entry by its key (RFC 6241 §7.1, §6.2.5)."""
    return (f'<get-config xmlns="{NC_NS}"><source><running/></source><filter type="subtree">'
            f'<entries xmlns="{PEER_NS}"><entry><name>{name}</name></entry></entries>'
            "</filter></get-config>")


def edit_config(target: Target, name: str, leaf: EditedLeaf, value: str) -> str:
    """edit-config merging one leaf of one entry into `target` (RFC 6241 §7.2)."""
    body = (f"<quantum><coherence-time>{value}</coherence-time></quantum>"
            if leaf == "coherence-time" else f"<rate>{value}</rate>")
    return (f'<edit-config xmlns="{NC_NS}"><target><{target}/></target><config>'
            f'<entries xmlns="{PEER_NS}"><entry><name>{name}</name>{body}</entry></entries>'
            "</config></edit-config>")


def startup_config(entries: int) -> str:
    """A startup file holding `entries` entries; every entry satisfies the must."""
    rows = "".join(
        f"<entry><name>{entry_name(i)}</name><rate>{i % 100}.5</rate>"
        f"<label>entry {i}</label><quantum><memory-qubits>{i % 64}</memory-qubits>"
        "<coherence-time>1.500</coherence-time></quantum></entry>"
        for i in range(entries))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<config xmlns="{NC_NS}">'
            f'<entries xmlns="{PEER_NS}">{rows}</entries></config>\n')


def rpc_ok(reply: etree._Element) -> bool:
    """The reply carries no <rpc-error> (RFC 6241 §4.3): <ok/> or <data>."""
    return reply.find(f"{{{NC_NS}}}rpc-error") is None


@dataclass(frozen=True)
class PeerEndpoint:
    """How a client reaches the peer; picklable, so a client process can connect itself."""

    transport: Transport
    username: str
    log_path: str
    host: str = "127.0.0.1"
    port: int = 0             # ssh: sshd's port
    key_path: str = ""        # ssh: the client's private key
    socket_path: str = ""     # relay: netconfd's ncxserver socket

    def connect(self, timeout: float = 10.0) -> NetconfRpcClient:
        """A new NETCONF session (base:1.1 framing, as with the controller's server)."""
        client: RawNetconfClient | PipeNetconfClient
        log_offset = Path(self.log_path).stat().st_size   # our session's line comes later
        if self.transport == "ssh":
            client = RawNetconfClient(self.host, self.port, self.username,
                                      key_filename=self.key_path, timeout=timeout)
        else:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": self.username,
                   # What sshd would tell the relay: client addr/port, server addr/port.
                   "SSH_CONNECTION": f"127.0.0.1 0 127.0.0.1 {RELAY_PORT}"}
            client = PipeNetconfClient(
                [str(NETCONF_SUBSYSTEM),
                 f"--ncxserver-sockname={RELAY_PORT}@{self.socket_path}"], env=env)
        try:
            self._await_active(client.session_id, log_offset, timeout)
        except BaseException:
            client.close()
            raise
        return client

    def _await_active(self, session_id: int, log_offset: int, timeout: float) -> None:
        """Wait until netconfd has taken in our <hello>.

        netconfd 2.13 splits what one read() brings in with the framing in force when it
        arrived: a chunked <rpc> that reaches it in the same read as the client's
        <hello> is taken as part of an end-of-message (base:1.0) frame and never
        answered. RFC 6242 §4.1 lets a client send right after its hello; this client
        waits for netconfd's log line instead, so the peer is measured, not its race.
        """
        marker = f"Session {session_id} for ".encode()
        deadline = time.monotonic() + timeout
        with Path(self.log_path).open("rb") as log_file:
            log_file.seek(log_offset)
            seen = b""
            while True:
                seen += log_file.read()
                if any(line.startswith(marker) and b"now active" in line
                       for line in seen.splitlines()):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"netconfd did not activate session {session_id}")
                time.sleep(0.001)


class NetconfdPeer:
    """A netconfd with `entries` entries, served over SSH (or the relay), stopped on exit."""

    def __init__(self, entries: int = 1000, *, target: Target = "candidate",
                 transport: Transport | Literal["auto"] = "auto",
                 start_timeout: float = 30.0) -> None:
        if transport == "auto":
            transport = "ssh" if os.access(SSHD, os.X_OK) else "relay"
        self.entries = entries
        self.target: Target = target
        self.transport: Transport = transport
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._netconfd: subprocess.Popen[bytes] | None = None
        self._sshd: subprocess.Popen[bytes] | None = None
        self._endpoint: PeerEndpoint | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> NetconfdPeer:
        if not netconfd_available():
            raise FileNotFoundError(f"{NETCONFD} (Debian package netconfd) is not installed")
        self._dir = Path(tempfile.mkdtemp(prefix="sdqn-netconfd-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _start(self) -> None:
        assert self._dir is not None
        user = pwd.getpwuid(os.getuid()).pw_name
        socket_path = self._dir / "ncxserver.sock"
        ssh_port = _free_port() if self.transport == "ssh" else RELAY_PORT
        netconfd_log = self._dir / "netconfd.log"
        self._netconfd = self._start_netconfd(user, socket_path, ssh_port, netconfd_log)
        if self.transport == "ssh":
            key_path = self._start_sshd(user, socket_path, ssh_port)
            self._endpoint = PeerEndpoint("ssh", user, str(netconfd_log), port=ssh_port,
                                          key_path=str(key_path))
        else:
            self._endpoint = PeerEndpoint("relay", user, str(netconfd_log),
                                          socket_path=str(socket_path))
        log.info("netconfd peer started", transport=self.transport, target=self.target,
                 entries=self.entries, workdir=str(self._dir))

    def _start_netconfd(self, user: str, socket_path: Path, ssh_port: int,
                        log_path: Path) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        startup = self._dir / "startup.xml"
        startup.write_text(startup_config(self.entries))
        home = self._dir / "home"     # netconfd keeps $HOME/.yuma state: not the user's
        home.mkdir()
        argv = [str(NETCONFD), f"--module={PEER_YANG}", f"--startup={startup}",
                f"--target={self.target}", f"--ncxserver-sockname={socket_path}",
                f"--port={ssh_port}", f"--superuser={user}", f"--log={log_path}",
                "--log-level=info", "--idle-timeout=0"]
        with (self._dir / "netconfd.out").open("wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT,
                                    env={"HOME": str(home), "PATH": "/usr/sbin:/usr/bin:/bin"})
        self._netconfd = proc
        deadline = time.monotonic() + self.start_timeout
        while not _accepts_unix(socket_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("netconfd did not start: "
                                   + _tail(log_path) + _tail(self._dir / "netconfd.out"))
            time.sleep(0.02)
        return proc

    def _start_sshd(self, user: str, socket_path: Path, port: int) -> Path:
        assert self._dir is not None
        host_key = self._dir / "ssh_host_ecdsa_key"
        client_key = self._dir / "client_ecdsa_key"
        _write_key(host_key)
        authorized = self._dir / "authorized_keys"
        authorized.write_bytes(_write_key(client_key) + b"\n")
        if os.geteuid() == 0 and not SSHD_PRIVSEP_DIR.is_dir():
            SSHD_PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
            log.info("created sshd privilege-separation directory", path=str(SSHD_PRIVSEP_DIR))
        config = self._dir / "sshd_config"
        config.write_text(_sshd_config(port, host_key, authorized, user, socket_path))
        with (self._dir / "sshd.log").open("wb") as err:
            # Absolute path: sshd re-executes itself for every connection.
            self._sshd = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                          stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + self.start_timeout
        while not _accepts_tcp("127.0.0.1", port):
            if self._sshd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start: " + _tail(self._dir / "sshd.log"))
            time.sleep(0.02)
        return client_key

    def stop(self) -> None:
        """Stop sshd (with its sessions) and netconfd; remove the state directory."""
        for proc in (self._sshd, self._netconfd):
            if proc is not None:
                _stop_tree(proc)
        self._sshd = self._netconfd = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- use ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> PeerEndpoint:
        assert self._endpoint is not None, "the peer is not started"
        return self._endpoint

    def connect(self, timeout: float = 10.0) -> NetconfRpcClient:
        return self.endpoint.connect(timeout)

    def edit_ops(self, name: str, leaf: EditedLeaf, value: str) -> list[str]:
        """The RPC bodies of one edit of one leaf, as this peer's target takes it:
        edit-config on running, or edit-config on candidate then <commit>."""
        edit = edit_config(self.target, name, leaf, value)
        return [edit] if self.target == "running" else [edit, COMMIT]

    @property
    def pids(self) -> list[int]:
        """netconfd's and sshd's pids (the roots of the serving process trees)."""
        return [p.pid for p in (self._netconfd, self._sshd) if p is not None]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of every process serving this peer so far."""
        return sum(self.cpu_breakdown().values())

    def cpu_breakdown(self) -> dict[str, float]:
        """CPU seconds so far of netconfd itself and of the transport in front of it
        (sshd and its session processes with their relays, or the live relays)."""
        table = process_table()
        netconfd = (tree_cpu_seconds(self._netconfd.pid, table)
                    if self._netconfd is not None else 0.0)
        transport = tree_cpu_seconds(self._sshd.pid, table) if self._sshd is not None else 0.0
        if self.transport == "relay" and self._endpoint is not None:
            # Relays are children of their clients: found by the socket they name.
            needle = f"@{self._endpoint.socket_path}".encode()
            transport += sum(stat.own for stat in table.values()
                             if _cmdline_has(stat.pid, needle))
        return {"netconfd": netconfd, "transport": transport}


def _sshd_config(port: int, host_key: Path, authorized: Path, user: str,
                 socket_path: Path) -> str:
    """sshd_config(5) for one user, public keys only, no PAM, the netconf subsystem."""
    return "\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        "PidFile none",
        f"AuthorizedKeysFile {authorized}",
        "StrictModes no",                 # the keys live in a temporary directory
        f"AllowUsers {user}",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "GSSAPIAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "MaxStartups 200",                 # concurrent readers connect at once
        "MaxSessions 200",
        "LogLevel ERROR",
        # netconf-subsystem picks netconfd's socket by the port the client reached.
        f'Subsystem netconf "{NETCONF_SUBSYSTEM} --ncxserver-sockname={port}@{socket_path}"',
        "",
    ])


def _write_key(path: Path) -> bytes:
    """Write a new ECDSA P-256 private key (PEM, mode 0600, which sshd insists on for a
    host key); return its public key in authorized_keys form."""
    key = paramiko.ECDSAKey.generate()
    key.write_private_key_file(str(path))
    return f"{key.get_name()} {key.get_base64()}".encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _accepts_unix(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            return True
        except OSError:
            return False


def _cmdline_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _stop_tree(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM `proc` and its descendants (sshd's session processes outlive the
    listener otherwise), SIGKILL what is left after `timeout`, and reap `proc`."""
    pids = descendants(proc.pid) if proc.poll() is None else []
    for pid in reversed(pids):       # children first: a session ends before its parent
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
