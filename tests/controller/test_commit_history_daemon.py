"""`sdqn controller run` keeps one commit history for all its northbounds: a commit
labelled over NETCONF is listed over RESTCONF and by `sdqn commits list` (gRPC, in a
subprocess), and a rollback-to over NETCONF is recorded with who made it and why."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from lxml import etree
from ncclient import manager

from tests.controller.netconf.conftest import NC, NW
from tests.controller.restconf.conftest import JSON, Daemon

CTL = "urn:sdqn:sdqn-controller"
LAB = (f'<config xmlns="{NC}"><networks xmlns="{NW}"><network><network-id>lab</network-id>'
       "</network></networks></config>")


def test_daemon_serves_one_history_everywhere(tmp_path: Path) -> None:
    token = {"user": "admin", "token_sha256": hashlib.sha256(b"s3cret").hexdigest()}
    daemon = Daemon(tmp_path, {"restconf": {"port": 0, "metrics": False},
                               "grpc": {"port": 0, "tokens": [token]}}, 3)
    try:
        host, port = daemon.address("netconf").rsplit(":", 1)
        with manager.connect(host=host, port=int(port), username="admin", password="admin",
                             hostkey_verify=False, look_for_keys=False, allow_agent=False,
                             timeout=10) as nc:
            nc.edit_config(target="candidate", config=LAB)
            nc.dispatch(etree.fromstring(
                f'<commit xmlns="{NC}"><label xmlns="{CTL}">lab network</label>'
                f'<comment xmlns="{CTL}">for the bench</comment></commit>'))
            with httpx.Client(base_url=f"http://{daemon.address('restconf')}", timeout=10,
                              auth=("operator", "operator")) as rc:
                listed = rc.post("/restconf/operations/sdqn-controller:list-commits",
                                 headers={"Content-Type": JSON},
                                 content=json.dumps({"sdqn-controller:input": {"limit": 1}}))
                assert listed.status_code == 200, listed.text
                record = listed.json()["sdqn-controller:output"]["commit"][0]
                assert (record["label"], record["comment"], record["kind"]) == (
                    "lab network", "for the bench", "commit")
            cli = subprocess.run(
                [str(Path(sys.executable).parent / "sdqn"), "commits", "list", "--json",
                 "--target", daemon.address("grpc")], capture_output=True, text=True,
                timeout=60, check=False, env={**os.environ, "SDQN_TOKEN": "s3cret"})
            assert cli.returncode == 0, cli.stderr
            newest = json.loads(cli.stdout)["commits"][0]
            assert (newest["commit_id"], newest["user"]) == (record["id"], "admin")
            nc.dispatch(etree.fromstring(
                f'<rollback-to xmlns="{CTL}"><id>{record["id"]}</id>'
                "<comment>not needed after all</comment></rollback-to>"))
            running = nc.get_config("running", filter=(
                "subtree", f'<networks xmlns="{NW}"/>')).data_xml
            assert "lab" not in running
            reply = nc.dispatch(etree.fromstring(
                f'<list-commits xmlns="{CTL}"><limit>1</limit></list-commits>'))
            rollback = etree.fromstring(reply.xml.encode()).find(f".//{{{CTL}}}commit")
            assert rollback is not None
            fields = {etree.QName(c).localname: c.text for c in rollback}
            assert {k: fields.get(k) for k in ("kind", "user", "comment", "label")} == {
                "kind": "rollback", "user": "admin", "comment": "not needed after all",
                "label": f"rollback to before {record['id']}"}
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
