"""Schema discovery for every generation of client: YANG library 1.1 (RFC 8525/8526) and
1.0 (RFC 7895, RFC 7950 §5.6.4) side by side, and <get-schema> (RFC 6022 §3.1) returning
the modules as written; driven by ncclient and by yuma123's yangcli, which only knows
YANG library 1.0."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.paths import YANG_DIR, yang_search_dirs
from tests.controller.netconf.conftest import Connect, xml

YANGLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
LEGACY_CAP = "urn:ietf:params:netconf:capability:yang-library:1.0"
SDQN_MODULES = ("sdqn-types", "sdqn-services")


def _capability(mgr: object, prefix: str) -> str:
    caps = [c for c in mgr.server_capabilities if c.startswith(prefix)]  # type: ignore[attr-defined]
    assert len(caps) == 1, caps
    return caps[0]


def test_hello_announces_both_yang_library_versions(connect: Connect,
                                                    server: NetconfServer) -> None:
    mgr = connect()
    content_id = server.core.library.content_id
    legacy = _capability(mgr, LEGACY_CAP)
    assert legacy == f"{LEGACY_CAP}?revision=2016-06-21&module-set-id={content_id}"
    current = _capability(mgr, "urn:ietf:params:netconf:capability:yang-library:1.1")
    assert current.endswith(f"&content-id={content_id}")


def test_modules_state_lists_the_module_set(connect: Connect, server: NetconfServer) -> None:
    mgr = connect()
    reply = xml(mgr.get(filter=("subtree", f'<modules-state xmlns="{YANGLIB}"/>')))
    state = reply.find(f".//{{{YANGLIB}}}modules-state")
    assert state is not None
    ns = {"y": YANGLIB}
    assert state.findtext("y:module-set-id", namespaces=ns) == server.core.library.content_id
    listed = {m.findtext("y:name", namespaces=ns): m for m in state.findall("y:module", ns)}
    for info in server.core.library.modules:
        entry = listed[info.name]
        assert entry.findtext("y:revision", namespaces=ns) == (info.revision or "")
        assert entry.findtext("y:namespace", namespaces=ns) == info.namespace
        assert entry.findtext("y:conformance-type", namespaces=ns) == (
            "implement" if info.implemented else "import")
    netconf = listed["ietf-netconf"]
    features = {f.text for f in netconf.findall("y:feature", ns)}
    assert "candidate" in features and "url" not in features


def test_get_schema_returns_the_source_text(connect: Connect, server: NetconfServer) -> None:
    mgr = connect()
    for name in ("sdqn-services", "ietf-yang-library", "ietf-netconf"):
        info = next(m for m in server.core.library.modules if m.name == name)
        source = server.core.library.schema.sources[(name, info.revision)]
        assert mgr.get_schema(name, info.revision).data == source.read_text()
    yin = mgr.get_schema("sdqn-services", format="yin").data
    assert "<module" in yin
    with pytest.raises(RPCError) as exc:
        mgr.get_schema("sdqn-services", "1999-01-01")
    assert exc.value.tag == "invalid-value"


def test_decimal_ranges_are_spaced_for_yuma123() -> None:
    """yuma123 misreads a range whose lower bound has a fraction directly followed by
    "..": "0.25..1" fails, "0.25 .. 1" (same range, RFC 7950 §9.2.4 optsep) loads."""
    crowded = re.compile(r'range\s+"[^"]*\d\.\d+\.\.')
    offenders = [p.name for p in YANG_DIR.glob("*.yang") if crowded.search(p.read_text())]
    assert offenders == []


def test_no_fractional_range_narrows_a_derived_decimal64() -> None:
    """yuma123 reports "decimal64 fraction precision overflow" for a range with a fractional
    bound on a derived type (`type sdqn-types:frequency { range "0.001 .. max"; }`); a
    typedef on decimal64 itself gives the same value space (RFC 7950 §9.3.4)."""
    narrowed = re.compile(r'type\s+(?!decimal64\b)[\w:-]+\s*\{\s*range\s+"[^"]*\d\.\d')
    offenders = [p.name for p in YANG_DIR.glob("*.yang") if narrowed.search(p.read_text())]
    assert offenders == []


#: Valid YANG 1.1 that yuma123 2.13 cannot compile, with the reason yangcli reports.
#: ietf-alarms (RFC 8632) declares `notification operator-action` inside the alarm list;
#: RFC 7950 §7.8.1 lists "notification" among a list's substatements (§7.16: a notification
#: tied to a data node), but yuma's parser accepts only data definitions there:
#: "'notification' token not allowed here". yangcli prefers its own copy of the module
#: (/usr/share/yuma/modules/ietf, same revision) to <get-schema> and that copy fails the
#: same way, and a parse error comes before any deviation or feature could apply.
#: sdqn-alarms is only collateral: it imports ietf-alarms for the alarm identities.
#: yuma123 fixed its parser after 2.13 (upstream commit 4ede28d): a yangcli with the fix
#: loads both, and this set and the /alarms expectation below then go.
#: ietf-subscribed-notifications (RFC 8639) narrows its `stream-ref` leafref typedef with
#: `require-instance false`, which RFC 7950 §9.9.3 allows in a derived leafref type, but
#: yuma 2.13 expects only range, length or pattern there ("Got 'require-instance'"), and its
#: refines of that grouping then miss their target; ietf-yang-push (RFC 8641) imports it.
YUMA_CANNOT_COMPILE = {"ietf-alarms": "wrong token value",
                       "sdqn-alarms": "imported module has errors",
                       "ietf-subscribed-notifications": "missing refine target",
                       "ietf-yang-push": "imported module has errors"}
#: yangcli keeps its own yuma123-netconf in place of ietf-netconf for the session and loads
#: ietf-netconf from its local modules when asked.
YUMA_OWN_COPY = {"ietf-netconf"}


def _yangcli(server: NetconfServer, tmp_path: Path, *commands: str) -> str:
    """Run `commands` in yangcli's batch mode against `server`; its whole output. A failing
    command cancels the rest of the script, so a test puts an expected failure last."""
    script = tmp_path / "script"
    script.write_text("".join(f"{command}\n" for command in commands))
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        ["yangcli", "--config=/dev/null", f"--home={home}", "--server=127.0.0.1",
         f"--ncport={server.port}", "--user=admin", "--password=admin", "--batch-mode",
         f"--run-script={script}"],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    return run.stdout + run.stderr


needs_yangcli = pytest.mark.skipif(
    shutil.which("yangcli") is None,
    reason="yuma123 yangcli is not installed (make system-deps installs it)")


@pytest.mark.timeout(120)
@needs_yangcli
def test_yangcli_discovers_the_modules_and_reads_services(server: NetconfServer,
                                                          tmp_path: Path) -> None:
    """yangcli finds the module set through YANG library 1.0, fetches each module with
    <get-schema> and uses it to build and print an <sget>."""
    out = _yangcli(server, tmp_path, "show modules", "sget /entanglement-services")
    assert "Getting yang-library module set" in out, out
    assert f"module-set-id: {server.core.library.content_id}" in out, out
    for name in SDQN_MODULES:
        assert re.search(rf"^\s*{name}@\d{{4}}-\d\d-\d\d\s*$", out, re.MULTILINE), out
        assert f"Auto-load for module '{name}' failed" not in out, out
    assert "module not found" not in out.lower(), out
    reply = out.split("RPC Data Reply", 1)[1]
    assert "entanglement-services" in reply
    assert "request qkd-alice-bob" in reply and "source-node alice" in reply


@pytest.mark.timeout(120)
@needs_yangcli
def test_yangcli_compiles_every_listed_module_and_reads_with_it(
        server: NetconfServer, store: NmdaStore, tmp_path: Path) -> None:
    """Every module in /modules-state compiles in yangcli (`mgrload` finds it already
    loaded for the session), except the documented yuma123 limitation, and yangcli reads
    the topology and controller configuration through the modules it compiled: the
    decimal64 ranges and the compensator's leafref/must in a form yuma understands."""
    store.edit_json(Datastore.RUNNING,
                    {"sdqn-controller:controller": {"optimiser": {"time-limit": "2.5"}}})
    listed = [m.name for m in server.core.library.modules]
    compiled = [name for name in listed if name not in YUMA_CANNOT_COMPILE]
    out = _yangcli(server, tmp_path, *(f"mgrload {name}" for name in compiled),
                   "sget /networks", "sget /controller", "sget /alarms")
    failed = dict(re.findall(r"Auto-load for module '([\w.-]+)' failed \(([^)]*)\)", out))
    assert failed == YUMA_CANNOT_COMPILE, out
    assert "'notification' token not allowed here" in out, out
    assert "Got 'require-instance', Expected: range, length, or pattern keyword" in out, out
    for name in compiled:
        loaded = rf"Module '{name}' revision '[^']*' already loaded"
        if name in YUMA_OWN_COPY:
            loaded += rf"|Load module '{name}' OK"
        assert re.search(loaded, out), (name, out)
    replies = out.split("RPC Data Reply")
    assert len(replies) == 3, out
    networks, controller = replies[1], replies[2]
    assert "network-id metro" in networks, out
    assert re.search(r"coherence-time 1\.50*\s", networks), out
    assert re.search(r"fibre-length \d", networks), out
    assert re.search(r"compensator apc-\d", networks), out
    assert re.search(r"time-limit 2\.50*\s", controller), out
    # /alarms is ietf-alarms' tree: without the module yangcli cannot even name it.
    assert "No object match for node 'alarms'" in replies[2], out


@pytest.mark.timeout(120)
@needs_yangcli
def test_yangcli_compiles_every_sdqn_module(tmp_path: Path) -> None:
    """Every module under yang/, the device modules included (an engineer points yangcli at
    an emulated device too), compiles in yangcli from the repository's files; sdqn-alarms
    only fails through ietf-alarms."""
    names = sorted(p.stem for p in YANG_DIR.glob("*.yang"))
    compiled = [name for name in names if name not in YUMA_CANNOT_COMPILE]
    script = tmp_path / "script"
    script.write_text("".join(f"mgrload {name}\n" for name in compiled))
    home = tmp_path / "home"
    home.mkdir()
    modpath = ":".join(str(d) for d in yang_search_dirs())
    run = subprocess.run(
        ["yangcli", "--config=/dev/null", f"--home={home}", f"--modpath={modpath}",
         "--batch-mode", f"--run-script={script}"],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert "Error" not in out, out
    for name in compiled:  # loaded when asked, or before as another module's import
        assert re.search(rf"Load module '{name}' OK|Module '{name}' revision '[^']*' already "
                         "loaded", out), (name, out)
