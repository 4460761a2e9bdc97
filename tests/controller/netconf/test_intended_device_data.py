"""<intended>'s per-device configuration is device data a client can parse with the
device's own schema, and nothing else.

The controller daemon (subprocess) manages the emulated metro network (real NETCONF
servers); once it has configured every device, its device configurations are read over
NETCONF (ncclient) and RESTCONF (httpx) as XML, cut out of the anydata, and parsed with
a fresh libyang context holding only the device modules (strict, configuration data) and
with Debian's yanglint. The result must equal what the device runs (<get-config> from the
emulated device). The device modules are discovered the way a client would: listed in
the YANG library as import-only modules and fetched with <get-schema>.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import libyang
import pytest
from lxml import etree
from ncclient import manager as nc_manager
from ncclient.operations.rpc import RPCError

from controller.paths import YANG_DIR
from southbound.kinds import DEVICE_KINDS, TYPES_MODULE
from southbound.transport import connect
from tests.controller.e2e import (
    CTL,
    NC,
    NMDA,
    Daemon,
    canonical,
    edit_running,
    emulated_network,
    intent_xml,
    wait_devices_run_intended,
    write_config,
)
from tests.controller.netconf.conftest import Connect

YANGLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
#: device module → its kind (one per kind)
KIND_OF_MODULE = {kind.module: kind for kind in DEVICE_KINDS.values()}
DEVICE_MODULES = (TYPES_MODULE, "sdqn-device-common", *KIND_OF_MODULE)

pytestmark = pytest.mark.timeout(300)


class Controller:
    """The running daemon with its emulated network and RESTCONF address."""

    def __init__(self, daemon: Daemon, restconf: str, devices: list[dict[str, Any]]) -> None:
        self.daemon = daemon
        self.restconf = restconf
        self.devices = {d["node-id"]: d for d in devices}

    def device_running(self, node: str) -> Any:
        """<get-config> of running from the emulated device itself, as RFC 7951 JSON."""
        entry = self.devices[node]
        mgr = connect(host=entry["address"], port=entry["port"], username=entry["username"],
                      password=entry["password"])
        try:
            reply = mgr.get_config(source="running")
        finally:
            mgr.close_session()
        data = etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data")
        assert data is not None and len(data) == 1, reply.xml
        return device_json(etree.tostring(data[0]).decode())


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    tmp = tmp_path_factory.mktemp("mount")
    config = write_config(tmp, "mount")
    settings = json.loads(config.read_text())
    settings["restconf"].update(enabled=True, port=0)
    config.write_text(json.dumps(settings))
    with emulated_network() as net, Daemon(config, tmp / "daemon.log") as daemon:
        assert daemon.proc.stdout is not None
        line = daemon.proc.stdout.readline()
        assert line.startswith("restconf listening on "), line
        edit_running(daemon, intent_xml(net))
        wait_devices_run_intended(daemon, net)
        yield Controller(daemon, line.split()[-1], net.inventory()["devices"])


def device_context() -> libyang.Context:
    """A fresh context with only the device modules (what a client builds for the
    devices), every feature on as the devices run them."""
    ctx = libyang.Context(str(YANG_DIR), disable_searchdir_cwd=True)
    for name in (TYPES_MODULE, *KIND_OF_MODULE):
        ctx.load_module(name).feature_enable_all()
    return ctx


def device_json(xml: str) -> Any:
    """Device configuration XML parsed by libyang with only the device modules: strict
    (unknown elements or undeclared prefixes fail), configuration only, validated."""
    ctx = device_context()
    try:
        tree = ctx.parse_data_mem(xml, "xml", no_state=True, strict=True)
        assert tree is not None, xml
        try:
            return json.loads(str(tree.print_mem("json", with_siblings=True)))
        finally:
            tree.free()
    finally:
        ctx.destroy()


def yanglint_json(xml: str, tmp_path: Path) -> Any:
    """The same XML parsed by yanglint (libyang2-tools) with the device modules' files."""
    data = tmp_path / "device.xml"
    data.write_text(xml)
    modules = [str(YANG_DIR / f"{name}.yang") for name in (TYPES_MODULE, *KIND_OF_MODULE)]
    run = subprocess.run(
        ["yanglint", "-p", str(YANG_DIR), "-t", "config",
         "-f", "json", *modules, str(data)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def configurations(devices: etree._Element) -> dict[str, etree._Element]:
    """node-id → the one element inside the device's configuration anydata."""
    found = {}
    for device in devices.iter(f"{{{CTL}}}device"):
        configuration = device.find(f"{{{CTL}}}configuration")
        assert configuration is not None and len(configuration) == 1
        found[str(device.findtext(f"{{{CTL}}}node-id"))] = configuration[0]
    return found


def check_device_data(controller: Controller, found: dict[str, etree._Element],
                      tmp_path: Path) -> None:
    assert set(found) == set(controller.devices)
    kinds = set()
    for node, element in found.items():
        namespace = etree.QName(element).namespace
        kind = next(k for k in DEVICE_KINDS.values() if k.namespace == namespace)
        assert etree.QName(element).localname == kind.top
        kinds.add(kind.name)
        # lxml serialises the element with every namespace in scope it needs declared.
        xml = etree.tostring(element).decode()
        parsed = device_json(xml)
        assert canonical(parsed) == canonical(controller.device_running(node)), node
        if shutil.which("yanglint") is not None:
            assert canonical(yanglint_json(xml, tmp_path)) == canonical(parsed), node
    assert kinds == set(DEVICE_KINDS)


def test_intended_device_data_parses_with_the_device_schema(
        controller: Controller, tmp_path: Path) -> None:
    devices = controller.daemon.get_data("intended", "/c:controller/c:devices", {"c": CTL})
    check_device_data(controller, configurations(devices), tmp_path)


def test_get_data_subtree_of_one_device(controller: Controller, tmp_path: Path) -> None:
    """A subtree filter selecting one device's configuration keeps the device data
    intact."""
    node = next(n for n, d in controller.devices.items() if d["kind"] == "end-node")
    m = controller.daemon.manager()
    try:
        reply = m.dispatch(etree.fromstring(
            f'<get-data xmlns="{NMDA}" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
            f"<datastore>ds:intended</datastore><subtree-filter><controller xmlns=\"{CTL}\">"
            f"<devices><device><node-id>{node}</node-id><configuration/></device></devices>"
            "</controller>"
            "</subtree-filter></get-data>"))
    finally:
        m.close_session()
    found = configurations(etree.fromstring(reply.xml.encode()))
    assert list(found) == [node]
    assert canonical(device_json(etree.tostring(found[node]).decode())) \
        == canonical(controller.device_running(node))


@pytest.mark.skipif(shutil.which("yanglint") is None,
                    reason="yanglint is not installed (make system-deps installs "
                           "libyang2-tools)")
def test_yanglint_is_strict_about_the_encoding(tmp_path: Path) -> None:
    """The check has teeth: the controller's old encoding (elements in its own
    namespace, identity prefixes never declared) is refused by yanglint."""
    bad = ('<end-node xmlns="urn:sdqn:sdqn-controller"><node-id>x</node-id></end-node>')
    data = tmp_path / "bad.xml"
    data.write_text(bad)
    run = subprocess.run(
        ["yanglint", "-p", str(YANG_DIR), "-t", "config", "-f", "json",
         str(YANG_DIR / "sdqn-end-node.yang"), str(data)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert run.returncode != 0


def test_restconf_xml_is_device_data_and_json_keeps_module_names(
        controller: Controller, tmp_path: Path) -> None:
    base = f"http://{controller.restconf}/restconf/ds/ietf-datastores:intended"
    auth = ("admin", "admin")
    xml = httpx.get(f"{base}/sdqn-controller:controller/devices", auth=auth, timeout=30,
                    headers={"Accept": "application/yang-data+xml"})
    assert xml.status_code == 200, xml.text
    check_device_data(controller, configurations(etree.fromstring(xml.content)), tmp_path)

    node = next(n for n, d in controller.devices.items() if d["kind"] == "repeater")
    entry = httpx.get(f"{base}/sdqn-controller:controller/devices/device={node}",
                      auth=auth, timeout=30, headers={"Accept": "application/yang-data+xml"})
    assert entry.status_code == 200, entry.text
    found = configurations(etree.fromstring(entry.content))
    assert canonical(device_json(etree.tostring(found[node]).decode())) \
        == canonical(controller.device_running(node))
    # RFC 8040 §3.5: the anydata is a data resource of its own.
    one = httpx.get(f"{base}/sdqn-controller:controller/devices/device={node}/configuration",
                    auth=auth, timeout=30, headers={"Accept": "application/yang-data+xml"})
    assert one.status_code == 200, one.text
    configuration = etree.fromstring(one.content)
    assert etree.QName(configuration).localname == "configuration"
    assert canonical(device_json(etree.tostring(configuration[0]).decode())) \
        == canonical(controller.device_running(node))

    as_json = httpx.get(f"{base}/sdqn-controller:controller/devices/device={node}",
                        auth=auth, timeout=30,
                        headers={"Accept": "application/yang-data+json"})
    assert as_json.status_code == 200, as_json.text
    device = as_json.json()["sdqn-controller:device"][0]
    assert list(device["configuration"]) == ["sdqn-repeater:repeater"]
    assert canonical(device["configuration"]) == canonical(controller.device_running(node))


def test_yang_library_lists_and_get_schema_serves_the_device_modules(
        controller: Controller) -> None:
    m: nc_manager.Manager = controller.daemon.manager()
    try:
        reply = m.dispatch(etree.fromstring(
            f'<get-data xmlns="{NMDA}" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
            f'<datastore>ds:operational</datastore><subtree-filter>'
            f'<yang-library xmlns="{YANGLIB}"/></subtree-filter></get-data>'))
        library = etree.fromstring(reply.xml.encode())
        ns = {"y": YANGLIB}
        implemented = {e.findtext("y:name", namespaces=ns)
                       for e in library.iterfind(".//y:module-set/y:module", ns)}
        import_only = {e.findtext("y:name", namespaces=ns):
                       (e.findtext("y:revision", namespaces=ns),
                        e.findtext("y:namespace", namespaces=ns))
                       for e in library.iterfind(".//y:module-set/y:import-only-module", ns)}
        for name in DEVICE_MODULES:
            if name == TYPES_MODULE:   # the controller implements it itself
                assert name in implemented
                continue
            assert name not in implemented, name
            revision, namespace = import_only[name]
            assert namespace == f"urn:sdqn:{name}"
            source = m.get_schema(name, revision).data
            assert source == (YANG_DIR / f"{name}.yang").read_text(), name
        # Loading them added nothing to the controller's datastores.
        for name in KIND_OF_MODULE:
            tops = m.dispatch(etree.fromstring(
                f'<get-data xmlns="{NMDA}" '
                'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                "<datastore>ds:operational</datastore>"
                f'<subtree-filter><{KIND_OF_MODULE[name].top} xmlns="urn:sdqn:{name}"/>'
                "</subtree-filter></get-data>"))
            data = etree.fromstring(tops.xml.encode()).find(f"{{{NMDA}}}data")
            assert data is not None and len(data) == 0
    finally:
        m.close_session()


def test_editing_device_data_through_the_anydata_is_refused(connect: Connect) -> None:
    """The expansion owns intended's device data; an edit naming the anydata gets
    operation-not-supported (RFC 6241 Appendix A) and changes nothing."""
    mgr = connect()
    before = mgr.get_config(source="running").xml
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=(
            f'<config xmlns="{NC}"><controller xmlns="{CTL}"><devices><device>'
            "<node-id>r1</node-id><configuration><repeater xmlns='urn:sdqn:sdqn-repeater'>"
            "<node-id>r1</node-id></repeater></configuration></device></devices>"
            "</controller></config>"))
    assert exc.value.tag == "operation-not-supported"
    assert mgr.get_config(source="running").xml.split("<data", 1)[1] \
        == before.split("<data", 1)[1]
