"""The commit history over RESTCONF (real HTTP, the daemon's server wiring): a commit's
label and comment as augmented ietf-netconf:commit input (RFC 7951 §4 member names),
and /restconf/operations/sdqn-controller:<rpc> (RFC 8040 §3.6) in JSON and XML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controller.app.restconf import build_restconf
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import NmdaStore
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.settings import ControllerSettings, RestconfSettings
from tests.controller.netconf.conftest import history, t2  # noqa: F401 (fixture)
from tests.controller.restconf.conftest import JSON, XML, Client

OPS = "/restconf/operations"
CTL = "urn:sdqn:sdqn-controller"
CANDIDATE_ALICE = ("/restconf/ds/ietf-datastores:candidate/ietf-network:networks/"
                   "network=metro/node=alice/sdqn-topology:quantum-node/coherence-time")
ALICE_T2 = ("/ietf-network:networks/network/[network-id=metro]/node/[node-id=alice]"
            "/sdqn-topology:quantum-node/coherence-time")


@pytest.fixture
def restconf(access: DataAccess, hub: EventHub, history: RunningHistory,  # noqa: F811
             ) -> Iterator[RestconfServer]:
    """The daemon's RESTCONF server (commit-history rpcs included) on a free port."""
    settings = ControllerSettings(restconf=RestconfSettings(port=0, metrics=False))
    srv = build_restconf(settings, access, hub, history)
    srv.start()
    yield srv
    srv.stop()


def post(client: httpx.Client, rpc: str, members: dict[str, Any] | None = None
         ) -> httpx.Response:
    module = rpc.partition(":")[0]
    if members is None:
        return client.post(f"{OPS}/{rpc}")
    return client.post(f"{OPS}/{rpc}", headers={"Content-Type": JSON},
                       content=json.dumps({f"{module}:input": members}))


def output(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["sdqn-controller:output"]
    return result


def set_candidate_t2(client: httpx.Client, value: str) -> None:
    r = client.put(CANDIDATE_ALICE, headers={"Content-Type": JSON},
                   content=json.dumps({"sdqn-topology:coherence-time": value}))
    assert r.status_code == 204, r.text


def newest(client: httpx.Client) -> dict[str, Any]:
    commits = output(post(client, "sdqn-controller:list-commits", {"limit": 1}))["commit"]
    assert len(commits) == 1
    record: dict[str, Any] = commits[0]
    return record


def error(response: httpx.Response) -> dict[str, Any]:
    entry: dict[str, Any] = response.json()["ietf-restconf:errors"]["error"][0]
    return entry


def test_operations_are_listed(admin: httpx.Client) -> None:
    ops = admin.get(OPS).json()["ietf-restconf:operations"]
    assert {f"sdqn-controller:{name}" for name in (
        "list-commits", "show-commit", "diff-commits", "rollback-to")} <= set(ops)


def test_commit_label_and_comment_show_and_diff(admin: httpx.Client,
                                                store: NmdaStore) -> None:
    set_candidate_t2(admin, "2.5")
    r = post(admin, "ietf-netconf:commit", {"sdqn-controller:label": "t2-alice",
                                            "sdqn-controller:comment": "new cryostat"})
    assert r.status_code == 204, r.text
    first = newest(admin)
    assert {k: first[k] for k in ("label", "comment", "user", "source-host", "kind")} == {
        "label": "t2-alice", "comment": "new cryostat", "user": "admin",
        "source-host": "127.0.0.1", "kind": "commit"}
    assert isinstance(first["seq"], str)          # uint64 is a JSON string (RFC 7951 §6.1)
    set_candidate_t2(admin, "3.5")
    r = admin.post(f"{OPS}/ietf-netconf:commit", headers={"Content-Type": XML}, content=(
        '<input xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<label xmlns="{CTL}">xml label</label></input>'))
    assert r.status_code == 204, r.text
    second = newest(admin)
    assert (second["label"], "comment" in second) == ("xml label", False)
    shown = output(post(admin, "sdqn-controller:show-commit", {"id": second["id"]}))
    assert shown["id"] == second["id"] and shown["kind"] == "commit"
    assert shown["change"] == [{"operation": "replace", "path": ALICE_T2,
                                "value": '"3.5"', "previous": '"2.5"'}]
    diff = output(post(admin, "sdqn-controller:diff-commits",
                       {"from": first["id"], "to": second["id"]}))
    assert diff == {"change": shown["change"]}
    assert output(post(admin, "sdqn-controller:diff-commits", {"from": second["id"]})) == {}
    xml_diff = admin.post(f"{OPS}/sdqn-controller:diff-commits",
                          headers={"Content-Type": XML, "Accept": JSON},
                          content=f'<input xmlns="{CTL}"><from>{first["id"]}</from></input>')
    assert output(xml_diff) == diff
    assert t2(store) == "3.5"


def test_rollback_to_and_its_errors(client: Client, admin: httpx.Client,
                                    store: NmdaStore) -> None:
    set_candidate_t2(admin, "2.5")
    assert post(admin, "ietf-netconf:commit").status_code == 204
    change = newest(admin)
    before = dict(store.versions)
    operator = client("operator")
    assert newest(operator)["id"] == change["id"]     # operators read the history ...
    denied = post(operator, "sdqn-controller:rollback-to", {"id": change["id"]})
    assert denied.status_code == 403 and error(denied)["error-tag"] == "access-denied"
    unknown = post(admin, "sdqn-controller:rollback-to", {"id": "c0ffee000000"})
    assert unknown.status_code == 409
    assert (error(unknown)["error-tag"], error(unknown)["error-message"]) == (
        "data-missing", "no commit 'c0ffee000000' in the history")
    for members, tag in (({}, "missing-element"), ({"id": 7}, "invalid-value"),
                         ({"id": change["id"], "colour": "red"}, "unknown-element"),
                         ({"id": change["id"], "label": "l" * 257}, "invalid-value")):
        bad = post(admin, "sdqn-controller:rollback-to", members)
        assert bad.status_code == 400 and error(bad)["error-tag"] == tag, members
    bad_limit = post(admin, "sdqn-controller:list-commits", {"limit": 0})
    assert bad_limit.status_code == 400
    assert dict(store.versions) == before and t2(store) == "2.5"
    done = output(post(admin, "sdqn-controller:rollback-to",
                       {"id": change["id"], "comment": "T2 was right before"}))
    assert done["changed"] is True and t2(store) == "1.5"
    record = newest(admin)
    assert {k: record[k] for k in ("id", "kind", "user", "label", "comment")} == {
        "id": done["id"], "kind": "rollback", "user": "admin",
        "label": f"rollback to before {change['id']}", "comment": "T2 was right before"}
    again = output(post(admin, "sdqn-controller:rollback-to", {"id": change["id"]}))
    assert again == {"changed": False}


def test_a_yang_patch_of_running_is_recorded_with_its_patch_id_and_comment(
        admin: httpx.Client) -> None:
    """RFC 8072 §2.2: patch-id and comment describe the entire patch; a patch of running
    is a change of running, so the history keeps them (label, comment). A patch of the
    candidate says nothing until its commit."""
    def patch(ds: str, patch_id: str, value: str, comment: Any = None) -> httpx.Response:
        body: dict[str, Any] = {"patch-id": patch_id, "edit": [{
            "edit-id": "t2", "operation": "merge", "target": (
                "/ietf-network:networks/network=metro/node=alice/"
                "sdqn-topology:quantum-node/coherence-time"),
            "value": {"sdqn-topology:coherence-time": value}}]}
        if comment is not None:
            body["comment"] = comment
        return admin.patch(f"/restconf/ds/ietf-datastores:{ds}",
                           headers={"Content-Type": "application/yang-patch+json"},
                           content=json.dumps({"ietf-yang-patch:yang-patch": body}))

    assert patch("running", "cryostat-swap", "4.5", "after the cryostat swap") \
        .status_code == 200
    record = newest(admin)
    assert (record["kind"], record["label"], record["comment"]) == (
        "edit", "cryostat-swap", "after the cryostat swap")
    assert patch("running", "no-comment", "5.5").status_code == 200
    record = newest(admin)
    assert (record["label"], "comment" in record) == ("no-comment", False)
    refused = patch("running", "bad-comment", "6.5", {"not": "a string"})
    assert refused.status_code == 400 and error(refused)["error-tag"] == "invalid-value"
    assert newest(admin)["id"] == record["id"]             # nothing recorded, nothing changed
    assert patch("candidate", "staged", "7.5", "not yet").status_code == 200
    assert newest(admin)["id"] == record["id"]
    admin.post(f"{OPS}/ietf-netconf:discard-changes")
