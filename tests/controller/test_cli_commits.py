"""`sdqn commit --label --comment` and `sdqn commits list|show|diff|rollback` against an
in-process controller (gRPC server over the test store): JSON for scripts, tables for
people, errors with the gRPC status."""

from __future__ import annotations

import json
from typing import Any

from controller.datastore.nmda import Datastore, NmdaStore
from tests.controller.grpc_api.conftest import (  # noqa: F401 (fixtures)
    access,
    grpc_server,
    hub,
    netconf,
    schema,
    store,
)
from tests.controller.test_cli_client import sdqn  # noqa: F401 (fixture)

WEIGHT = "/sdqn-services:entanglement-services/request/[name=qkd-alice-bob]/weight"
REQUEST = "/sdqn-services:entanglement-services/request[name='qkd-alice-bob']"


def reweigh(sdqn: Any, value: str, *options: str) -> dict[str, Any]:  # noqa: F811
    sdqn("request", "modify", "qkd-alice-bob", "--weight", value)
    result: dict[str, Any] = json.loads(sdqn("commit", *options, "--json"))
    return result


def test_commit_history_commands_json(sdqn: Any, store: NmdaStore) -> None:  # noqa: F811
    first = reweigh(sdqn, "2", "--label", "reweigh", "--comment", "fairness review")
    assert (first["label"], first["comment"], first["changed"]) == (
        "reweigh", "fairness review", True)
    second = reweigh(sdqn, "3", "-m", "again", "-c", "still unfair")
    listed = json.loads(sdqn("commits", "list", "--limit", "2", "--json"))["commits"]
    assert [(c["commit_id"], c["label"], c["comment"], c["kind"], c["user"])
            for c in listed] == [
        (second["commit_id"], "again", "still unfair", "commit", "admin"),
        (first["commit_id"], "reweigh", "fairness review", "commit", "admin")]
    shown = json.loads(sdqn("commits", "show", second["commit_id"], "--json"))
    assert shown["commit"]["comment"] == "still unfair"
    assert shown["changes"] == [{"operation": "replace", "path": WEIGHT,
                                 "value": '"3.0"', "previous": '"2.0"'}]
    between = json.loads(sdqn("commits", "diff", first["commit_id"], second["commit_id"],
                              "--json"))
    assert between["changes"] == shown["changes"]
    assert json.loads(sdqn("commits", "diff", second["commit_id"], "--json")) == {
        "changes": []}
    rolled = json.loads(sdqn("commits", "rollback", first["commit_id"], "-c", "back to 1",
                             "--json"))
    assert rolled["changed"] is True and rolled["comment"] == "back to 1"
    newest = json.loads(sdqn("commits", "list", "--limit", "1", "--json"))["commits"][0]
    assert (newest["commit_id"], newest["kind"], newest["label"], newest["comment"]) == (
        rolled["commit_id"], "rollback", f"rollback to before {first['commit_id']}",
        "back to 1")
    running = json.loads(store.get(Datastore.RUNNING, xpath=REQUEST))
    assert running["sdqn-services:entanglement-services"]["request"][0]["weight"] == "1.0"


def test_commit_history_tables_and_errors(sdqn: Any) -> None:  # noqa: F811
    done = reweigh(sdqn, "2", "-m", "reweigh", "-c", "fairness review")
    table = sdqn("commits", "list")
    assert "commit history" in table and "reweigh" in table and "fairness review" in table
    shown = sdqn("commits", "show", done["commit_id"])
    assert "fairness review" in shown and WEIGHT in shown
    assert "no change" in sdqn("commits", "diff", done["commit_id"])
    missing = json.loads(sdqn("commits", "show", "c0ffee000000", "--json", code=1))
    assert missing["error"] == {"code": "NOT_FOUND",
                                "message": "data-missing: no commit 'c0ffee000000' in the "
                                           "history"}
    denied = json.loads(sdqn("commits", "rollback", done["commit_id"], "--json",
                             user="operator", code=1))
    assert denied["error"]["code"] == "PERMISSION_DENIED"
    assert "comment: why" in sdqn("commits", "rollback", done["commit_id"], "-c", "why")
