"""Safe change end to end: the controller daemon in a subprocess, the emulated metro
network in the test process. An operator previews a commit over NETCONF and RESTCONF
(sdqn-controller dry-run), commits it, and the devices change exactly as the dry-run said;
live services the commit does not touch do not move; only admins may optimise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import httpx
from lxml import etree
from ncclient.operations import RPCError

from controller.bench.change import members
from controller.datastore.jsondiff import json_diff
from controller.grpc_api.stubs import load
from southbound.transport import connect
from tests.controller.e2e import (
    CTL,
    NC,
    Daemon,
    canonical,
    device_configs,
    edit_running,
    emulated_network,
    intent_xml,
    wait_devices_run_intended,
    write_config,
)

EDIT = f"""<config xmlns="{NC}"><entanglement-services xmlns="urn:sdqn:sdqn-services">
  <request><name>qkd-alice-bob</name><demanded-rate>60.0</demanded-rate></request>
  <request><name>qkd-alice-charlie</name><source-node>alice</source-node>
    <destination-node>charlie</destination-node>
    <application xmlns:t="urn:sdqn:sdqn-types">t:qkd</application>
    <min-fidelity>0.8</min-fidelity><demanded-rate>5.0</demanded-rate></request>
</entanglement-services></config>"""


def dry_run_netconf(daemon: Daemon, rpc: str = "<dry-run xmlns='{ns}'/>",
                    user: str = "admin") -> Any:
    m = connect(host="127.0.0.1", port=daemon.port, username=user, password=user,
                timeout=120)
    try:
        reply = m.dispatch(etree.fromstring(rpc.format(ns=CTL)))
        impact = etree.fromstring(reply.xml.encode()).find(f"{{{CTL}}}impact")
        assert impact is not None, reply.xml
        return members(impact)
    finally:
        m.close_session()


def changed_paths(impact: Any) -> set[tuple[str, str]]:
    return {(d["node-id"], c["path"]) for d in impact.get("device", []) for c in d["change"]}


def test_dry_run_is_what_the_commit_does(tmp_path: Path) -> None:
    config = write_config(tmp_path, "safe")
    settings = json.loads(config.read_text())
    settings["restconf"].update(enabled=True, port=0)
    config.write_text(json.dumps(settings))
    with emulated_network() as net, Daemon(config, tmp_path / "daemon.log") as daemon:
        assert daemon.proc.stdout is not None
        restconf = daemon.proc.stdout.readline().rsplit(":", 1)[1].strip()
        edit_running(daemon, intent_xml(net))
        wait_devices_run_intended(daemon, net)
        live = {name: s for name, s in daemon.service_states().items()
                if s["admission"] == "admitted"}

        m = daemon.manager()
        try:
            m.edit_config(target="candidate", config=EDIT)
        finally:
            m.close_session()
        preview = dry_run_netconf(daemon)
        with httpx.Client(base_url=f"http://127.0.0.1:{restconf}", auth=("admin", "admin"),
                          timeout=120) as http:
            answer = http.post("/restconf/operations/sdqn-controller:dry-run",
                               headers={"content-type": "application/yang-data+json"},
                               json={"sdqn-controller:input": {"action": "commit"}})
            assert answer.status_code == 200, answer.text
        over_http = answer.json()["sdqn-controller:output"]["impact"]
        # One computation, two encodings: the same services, devices and totals.
        assert {k: str(v) for k, v in over_http["totals"].items()} == preview["totals"]
        assert changed_paths(over_http) == changed_paths(preview)
        assert preview["totals"]["moved"] == "0"
        touched = {s["name"]: s["change"] for s in preview["service"]}
        assert set(touched) <= {"qkd-alice-bob", "qkd-alice-charlie"}, touched
        assert touched.get("qkd-alice-bob") in ("retuned", None)

        before = device_configs(net)
        m = daemon.manager()
        try:
            m.commit()
        finally:
            m.close_session()
        wait_devices_run_intended(daemon, net)
        after = device_configs(net)
        actual = {(node, change["path"]) for node in sorted(after)
                  for change in json_diff(canonical(before[node]), canonical(after[node]))}
        assert actual == changed_paths(preview)        # the devices did what it said
        states = daemon.service_states()
        assert all(states[name]["admission"] == "admitted" for name in live)

        # Nothing to commit any more: the dry-run of the (now clean) candidate is empty.
        again = dry_run_netconf(daemon)
        assert again["totals"]["devices"] == "0" and "service" not in again

        # optimise: previewed by anyone with read access, run by admins only.
        optimise = dry_run_netconf(daemon,
                                   "<dry-run xmlns='{ns}'><action>optimise</action></dry-run>",
                                   user="operator")
        assert optimise["totals"]["hard-switches"] == "0"   # default: make-before-break-only
        assert dry_run_netconf(daemon, "<optimise xmlns='{ns}'><dry-run/></optimise>") \
            == optimise
        try:
            dry_run_netconf(daemon, "<optimise xmlns='{ns}'/>", user="operator")
        except RPCError as err:
            assert err.tag == "access-denied"
        else:
            raise AssertionError("operator ran optimise")
        done = dry_run_netconf(daemon, "<optimise xmlns='{ns}'/>")
        assert done == optimise
        wait_devices_run_intended(daemon, net)


def test_bad_dry_run_input_is_refused(tmp_path: Path) -> None:
    with emulated_network() as net, \
            Daemon(write_config(tmp_path, "bad"), tmp_path / "daemon.log") as daemon:
        edit_running(daemon, intent_xml(net))
        for rpc, tag in (("<dry-run xmlns='{ns}'><action>everything</action></dry-run>",
                          "invalid-value"),
                         ("<dry-run xmlns='{ns}'><force/></dry-run>", "unknown-element"),
                         ("<optimise xmlns='{ns}'><dry-run>yes</dry-run></optimise>",
                          "invalid-value")):
            try:
                dry_run_netconf(daemon, rpc)
            except RPCError as err:
                assert err.tag == tag, (rpc, err.tag)
            else:
                raise AssertionError(f"{rpc} accepted")


INNER = EDIT.removeprefix(f'<config xmlns="{NC}">').removesuffix("</config>")
EDIT_JSON = {"sdqn-services:entanglement-services": {"request": [
    {"name": "qkd-alice-bob", "demanded-rate": "60.0"},
    {"name": "qkd-alice-charlie", "source-node": "alice", "destination-node": "charlie",
     "application": "sdqn-types:qkd", "min-fidelity": "0.8", "demanded-rate": "5.0"}]}}
#: someone else's uncommitted edit, left in the shared candidate
OTHER = f"""<config xmlns="{NC}"><entanglement-services xmlns="urn:sdqn:sdqn-services">
  <request><name>teleport-bob-charlie</name><demanded-rate>1.0</demanded-rate></request>
</entanglement-services></config>"""


def grpc_dry_runs(target: str) -> tuple[Any, list[grpc.StatusCode]]:
    """gRPC DryRun of the edit as admin, then the codes of: the operator (may not write
    services), the edit with optimise, an edit that is not a JSON object."""
    pb, grpc_module = load()[0], load()[1]
    edit = json.dumps(EDIT_JSON)
    with grpc.insecure_channel(target) as channel:
        stub = grpc_module.ControllerServiceStub(channel)

        def call(user: str, **fields: str) -> Any:
            return stub.DryRun(pb.DryRunRequest(**fields), timeout=120,
                               metadata=(("authorization", f"Bearer {user}"),))

        answer = call("admin", action="commit", edit_json=edit)
        codes = []
        for user, fields in (("operator", {"edit_json": edit}),
                             ("admin", {"action": "optimise", "edit_json": edit}),
                             ("admin", {"edit_json": "[1, 2]"})):
            try:
                call(user, **fields)
            except grpc.RpcError as err:
                codes.append(err.code())
    return answer, codes


def test_dry_run_of_an_inline_edit_leaves_the_candidate_alone(tmp_path: Path) -> None:
    """dry-run with `edit`: the impact of that edit of running, computed without the
    candidate (whose other edits are neither in it nor touched), equal over NETCONF,
    RESTCONF and gRPC, and what a commit of the edit then does to the devices; refused as the
    edit would be (NACM, constraints), and only with action commit."""
    config = write_config(tmp_path, "inline")
    settings = json.loads(config.read_text())
    settings["restconf"].update(enabled=True, port=0)
    settings["grpc"].update(enabled=True, port=0)
    config.write_text(json.dumps(settings))
    with emulated_network() as net, Daemon(config, tmp_path / "daemon.log") as daemon:
        assert daemon.proc.stdout is not None
        restconf = daemon.proc.stdout.readline().rsplit(":", 1)[1].strip()
        grpc_target = daemon.proc.stdout.readline().split()[-1]
        edit_running(daemon, intent_xml(net))
        wait_devices_run_intended(daemon, net)
        m = daemon.manager()
        try:
            m.edit_config(target="candidate", config=OTHER)
            candidate = m.get_config(source="candidate").data_xml
            running = m.get_config(source="running").data_xml
        finally:
            m.close_session()
        before = device_configs(net)

        preview = dry_run_netconf(
            daemon, f"<dry-run xmlns='{{ns}}'><edit>{INNER}</edit></dry-run>")
        with httpx.Client(base_url=f"http://127.0.0.1:{restconf}", timeout=120,
                          headers={"content-type": "application/yang-data+json"}) as http:
            def post(user: str, members: dict[str, Any]) -> httpx.Response:
                return http.post("/restconf/operations/sdqn-controller:dry-run",
                                 auth=(user, user), json={"sdqn-controller:input": members})

            answer = post("admin", {"edit": EDIT_JSON})
            assert answer.status_code == 200, answer.text
            over_http = answer.json()["sdqn-controller:output"]["impact"]
            denied = post("operator", {"edit": EDIT_JSON})      # may not write services
            optimise = post("admin", {"action": "optimise", "edit": EDIT_JSON})
            dangling = post("admin", {"edit": {"sdqn-services:entanglement-services": {
                "request": [{"name": "to-nowhere", "source-node": "alice",
                             "destination-node": "no-such-node",
                             "application": "sdqn-types:qkd", "min-fidelity": "0.8",
                             "demanded-rate": "1.0"}]}}})
        assert {k: str(v) for k, v in over_http["totals"].items()} == preview["totals"]
        assert changed_paths(over_http) == changed_paths(preview)
        over_grpc, grpc_refusals = grpc_dry_runs(grpc_target)
        assert {(d.node_id, c.path) for d in over_grpc.devices for c in d.changes} \
            == changed_paths(preview)
        assert str(over_grpc.totals.devices) == preview["totals"]["devices"]
        assert grpc_refusals == [grpc.StatusCode.PERMISSION_DENIED,
                                 grpc.StatusCode.INVALID_ARGUMENT,
                                 grpc.StatusCode.INVALID_ARGUMENT]
        touched = {s["name"] for s in preview["service"]}
        assert "qkd-alice-charlie" in touched and "teleport-bob-charlie" not in touched
        for response, tag in ((denied, "access-denied"), (optimise, "invalid-value"),
                              (dangling, "data-missing")):
            error = response.json()["ietf-restconf:errors"]["error"][0]
            assert error["error-tag"] == tag, response.text

        m = daemon.manager()
        try:   # nothing changed: the candidate still holds the other edit, running is as it was
            assert m.get_config(source="candidate").data_xml == candidate
            assert m.get_config(source="running").data_xml == running
        finally:
            m.close_session()
        assert device_configs(net) == before

        edit_running(daemon, INNER)
        wait_devices_run_intended(daemon, net)
        after = device_configs(net)
        actual = {(node, change["path"]) for node in sorted(after)
                  for change in json_diff(canonical(before[node]), canonical(after[node]))}
        assert actual == changed_paths(preview)        # the devices did what it said
