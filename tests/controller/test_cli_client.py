"""The `sdqn` client commands against an in-process controller (gRPC server over the
test store): every command's --json output parses and says what happened; tables and
errors for people."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.datastore.nmda import NmdaStore
from controller.restconf.access import DataAccess
from controller.restconf.events import Event, EventHub
from controller.service.expansion import QnumExpander
from tests.controller.grpc_api.conftest import (  # noqa: F401 (fixtures)
    access,
    hub,
    netconf,
    schema,
    serving,
    store,
)

ADD = ["request", "add", "cli-req", "--src", "alice", "--dst", "dave", "--app", "qkd",
       "--min-fidelity", "0.8", "--rate", "25"]


@pytest.fixture
def sdqn(access: DataAccess, hub: EventHub) -> Iterator[Any]:  # noqa: F811
    """The commands against a gRPC server whose store runs the Q-NUM expansion (no
    device is pushed to: only the service manager pushes)."""
    runner = CliRunner()
    expander = QnumExpander(time_limit_s=2)
    with access.store.atomic():
        access.store.expander = expander
        access.store.reexpand()

    def run(*args: str, user: str = "admin", code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--target", target],
                               env={"SDQN_TOKEN": f"{user}-token", "COLUMNS": "250"})
        assert result.exit_code == code, result.output
        return result.output

    with serving(access, hub, expander) as server:
        target = server.target
        yield run


def test_json_output_of_every_command(sdqn: Any, store: NmdaStore,  # noqa: F811
                                      hub: EventHub) -> None:  # noqa: F811
    added = json.loads(sdqn(*ADD, "--json"))
    assert added["datastore"] == "candidate" and added["candidate_dirty"] is True
    dry = json.loads(sdqn("commit", "--dry-run", "--json"))
    assert [s["name"] for s in dry["services"]] == ["cli-req"]
    assert dry["services"][0]["change"] in ("added", "rejected")
    assert dry["totals"]["moved"] == 0
    committed = json.loads(sdqn("commit", "-m", "add cli-req", "--json"))
    assert committed["changed"] is True and committed["label"] == "add cli-req"
    listed = json.loads(sdqn("request", "list", "--json"))
    assert "cli-req" in {r["request"]["name"] for r in listed["requests"]}
    shown = json.loads(sdqn("request", "show", "cli-req", "--json"))
    assert shown["request"]["demanded_rate"] == 25.0
    assert shown["request"]["application"] == "APPLICATION_QKD"
    modified = json.loads(sdqn("request", "modify", "cli-req", "--weight", "2", "--running",
                               "--json"))
    assert modified["datastore"] == "running"
    topology = json.loads(sdqn("topology", "show", "--json"))
    assert {n["node_id"] for n in topology["nodes"]} >= {"alice", "dave"}
    assert json.loads(sdqn("alarms", "--json")) == {"alarms": []}
    withdrawn = json.loads(sdqn("request", "withdraw", "cli-req", "--running", "--json"))
    assert withdrawn["datastore"] == "running"
    rolled = json.loads(sdqn("rollback", "--json"))   # undoes the last change: withdraw
    assert rolled["changed"] is True and rolled["label"].startswith("rollback to before")
    assert json.loads(sdqn("request", "show", "cli-req", "--json"))["request"]["weight"] == 2

    def publish_when_watched() -> None:
        while hub.subscribers == 0:
            threading.Event().wait(0.01)
        hub.publish(Event("ietf-alarms", "alarm-notification",
                          {"resource": "alice", "perceived-severity": "minor"}, "now"))

    threading.Thread(target=publish_when_watched, daemon=True).start()
    lines = sdqn("watch", "--alarms", "--count", "1", "--timeout", "10", "--json")
    event = json.loads(lines.strip().splitlines()[-1])
    assert event["alarm"]["resource"] == "alice" and event["event_time"] == "now"


def test_tables_and_errors(sdqn: Any) -> None:
    assert "qkd-alice-bob" in sdqn("request", "list")
    assert "nodes" in sdqn("topology", "show") and "links" in sdqn("topology", "show")
    assert "dry run" in sdqn("commit", "--dry-run")
    assert "0 moved" in sdqn("optimise", "--dry-run")
    denied = json.loads(sdqn("optimise", "--json", user="operator", code=1))
    assert denied["error"]["code"] == "PERMISSION_DENIED"
    assert "0 moved" in sdqn("optimise")
    assert "nothing to commit" in sdqn("commit")
    denied = json.loads(sdqn(*ADD, "--running", "--json", user="operator", code=1))
    assert denied["error"]["code"] == "PERMISSION_DENIED"
    missing = json.loads(sdqn("request", "show", "ghost", "--json", code=1))
    assert missing["error"]["code"] == "NOT_FOUND"
    bad = sdqn("request", "add", "x", "--src", "a", "--dst", "b", "--app", "chess",
               "--min-fidelity", "0.9", "--rate", "1", code=2)
    assert "application must be one of" in bad
    unauthenticated = json.loads(sdqn("request", "list", "--json", user="stranger", code=1))
    assert unauthenticated["error"]["code"] == "UNAUTHENTICATED"


def test_error_messages_keep_key_predicates(sdqn: Any, store: NmdaStore) -> None:  # noqa: F811
    """A server error names the node by its XPath key predicate; the table output prints
    it as text (rich markup would take `[name='ghost']` for a style tag and drop it)."""
    before = dict(store.versions)
    shown = sdqn("request", "show", "ghost", code=1)
    assert "NOT_FOUND" in shown and "request[name='ghost']" in shown, shown
    withdrawn = sdqn("request", "withdraw", "ghost", "--running", code=1)
    assert "NOT_FOUND" in withdrawn and "request[name='ghost']" in withdrawn, withdrawn
    odd = sdqn("request", "show", "[bold]x[/bold]", code=1)   # markup in a name, as text
    assert "'[bold]x[/bold]'" in odd, odd
    assert store.versions == before
