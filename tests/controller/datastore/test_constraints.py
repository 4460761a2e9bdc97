"""Targeted constraint evaluation decides every leaf-value edit exactly as validating the
whole trees does: same verdict, same errors, same datastore content afterwards.

Each world is a valid datastore of real modules (the product's, each device module's,
the engine's test modules). Two stores hold it: one validates edits the way the product
does (targeted where it can), the reference always validates the affected trees whole.
Random sequences of edits set existing leaves to values drawn from what the datastore
holds (so they hit unique tuples, leafref targets and the other operands of musts and
whens) and from values around each type's edges.

Edits that can flip a `when` are decided by the full validation, which lets libyang
delete the nodes whose when turned false. The engine does not record those deletions:
a refused edit is rolled back without them (they come back as defaults, if any), and a
node deleted that way must not be another leaf of the same edit (its journal entry would
name freed memory). Such edits change one leaf, and a refused one is not required to
leave the datastore as it was; both stores must still agree.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from controller.datastore import ly
from controller.datastore.apply import validate_forest
from controller.datastore.constraints import Kind
from controller.datastore.ly import NodePtr, c2s, ffi, lib
from controller.datastore.nmda import Datastore, NmdaStore, TestOption
from controller.datastore.schema import Schema
from controller.datastore.tree import NULL, Forest, WithDefaults, node_path, path_steps
from controller.datastore.xpath_reach import reaches_anywhere, value_steps
from controller.errors import NetconfError
from controller.netconf import NETCONF_MODULES
from controller.paths import yang_search_dirs
from controller.settings import PRODUCT_MODULES
from tests.controller.datastore.conftest import TEST_YANG

R, C = Datastore.RUNNING, Datastore.CANDIDATE
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
ROOT = Path(__file__).resolve().parents[3]
INSTANCES = ROOT / "tests" / "yang" / "instances"
GENERIC_VALUES = ("0", "1", "2", "3", "4", "5", "8", "10", "40", "100", "0.5", "1.5",
                  "0.000001", "0.0001", "1550.12", "1549.32", "1310.0", "true", "false",
                  "ghost", "circuit", "packet", "severity-level", "all-state-changes", "import",
                  "revert", "raise-and-clear", "minor", "critical", "forbidden")


class FullValidationOnly:
    """Stands in for the constraint index of the reference store: every leaf may matter
    and nothing is decided, so every edit is validated whole."""

    def observes(self, snode: object) -> bool:
        return True

    def holds(self, first: NodePtr, leaves: Sequence[NodePtr]) -> bool:
        return False


@dataclass
class World:
    schema: Schema
    reference: Schema
    content: str

    def stores(self) -> tuple[NmdaStore, NmdaStore]:
        targeted, reference = NmdaStore(self.schema), NmdaStore(self.reference)
        targeted.copy(R, content=self.content)
        reference.copy(R, content=self.content)
        return targeted, reference


def _schemas(modules: Sequence[str], *, search: Sequence[Path] = ()) -> tuple[Schema, Schema]:
    dirs = [*search, *yang_search_dirs()]
    reference = Schema(list(modules), search_dirs=dirs)
    reference.constraints = FullValidationOnly()  # type: ignore[assignment]
    return Schema(list(modules), search_dirs=dirs), reference


def _config_only(schema: Schema, text: str) -> str:
    """A device sample (configuration and state) reduced to its configuration."""
    forest = Forest.parse(schema, text, config_only=False, validate=False)
    doomed = [n for n in _all_nodes(forest.first) if n.schema.flags & lib.LYS_CONFIG_R
              and not (n.parent != NULL and _parent(n).schema.flags & lib.LYS_CONFIG_R)]
    for node in doomed:
        forest.unlink(node)
        lib.lyd_free_tree(node)
    try:
        return forest.print("json")
    finally:
        forest.free()


def _product_content() -> str:
    doc = json.loads((ROOT / "config" / "topologies" / "metro.json").read_text())
    doc.update(json.loads((ROOT / "config" / "services" / "demo.json").read_text()))
    doc["sdqn-controller:controller"] = {"policies": {"out-of-band": {"device": [
        {"node-id": "alice", "action": "import"}, {"node-id": "qr1", "action": "revert"}]}}}
    doc["ietf-alarms:alarms"] = {"control": {"notify-status-changes": "severity-level",
                                             "notify-severity-level": "major"}}
    return json.dumps(doc)


def _random_topology(rng: random.Random, nodes: int, links: int, requests: int
                     ) -> dict[str, Any]:
    """A random quantum network with service requests (end nodes and repeaters)."""
    node_list = [{"node-id": f"n{i}", "sdqn-topology:quantum-node": {
        "device-kind": "sdqn-types:end-node" if i % 4 == 0 else "sdqn-types:repeater",
        "memory-qubits": rng.randint(0, 64), "coherence-time": f"{rng.uniform(0.1, 10):.3f}",
        "management": {"address": "127.0.0.1", "port": 20000 + i}}} for i in range(nodes)]
    link_list = []
    for k in range(links):
        a, b = rng.sample(range(nodes), 2)
        link_list.append({"link-id": f"l{k}", "source": {"source-node": f"n{a}"},
                          "destination": {"dest-node": f"n{b}"},
                          "sdqn-topology:quantum-link": {
                              "fibre-length": f"{rng.uniform(2, 80):.2f}",
                              "source-rate": "10000000", "link-fidelity": "0.97"}})
    ends = [f"n{i}" for i in range(0, nodes, 4)]
    request_list = []
    for r in range(requests):
        src, dst = rng.sample(ends, 2)
        request_list.append({"name": f"req{r}", "source-node": src, "destination-node": dst,
                             "application": "sdqn-types:qkd", "min-fidelity": "0.9",
                             "demanded-rate": f"{rng.uniform(1, 100):.1f}"})
    return {
        "ietf-network:networks": {"network": [{
            "network-id": "bench", "network-types": {"sdqn-topology:quantum-network": {}},
            "node": node_list, "ietf-network-topology:link": link_list}]},
        "sdqn-services:entanglement-services": {"request": request_list},
    }


def _test_module_content() -> str:
    return json.dumps({
        "sdqn-test:system": {"hostname": "h", "limits": {"min": 2, "max": 5}},
        "sdqn-test:device": [
            {"name": "a", "address": "x", "peer": "b", "ssh-port": 22,
             "port": [{"id": 1}, {"id": 2, "speed": 100}]},
            {"name": "b", "address": "y", "peer": "a", "tls-port": 443},
            {"name": "c", "address": "z", "kind": "sdqn-test:quantum"},
        ],
        "sdqn-test:route": [{"prefix": "p1", "via": "a"}, {"prefix": "p2", "via": "b"}],
    })


def _probe_content() -> str:
    return json.dumps({
        "sdqn-test-constraints:item": [
            {"name": "anchor", "value": 9, "link": "none"},
            {"name": "a", "value": 3, "marked": True, "tag": "t",
             "link": "/sdqn-test-constraints:item[name='anchor']/value",
             "target": "/sdqn-test-constraints:box/open"},
            {"name": "b", "value": 5, "link": "a"},
        ],
        "sdqn-test-constraints:box": {"open": True, "lid-colour": "red",
                                      "label": {"first": "a", "last": "c"}},
    })


_WORLDS: dict[str, World] = {}


def world(name: str) -> World:
    """The worlds are built once per session (libyang contexts take a while)."""
    if name in _WORLDS:
        return _WORLDS[name]
    if name == "product":
        schema, reference = _schemas(PRODUCT_MODULES)
        content = _product_content()
    elif name == "random":
        schema, reference = _schemas(PRODUCT_MODULES)
        content = json.dumps(_random_topology(random.Random(7), 24, 40, 12))
    elif name == "test":
        schema, reference = _schemas(["sdqn-test"], search=[TEST_YANG])
        content = _test_module_content()
    elif name == "probe":
        schema, reference = _schemas(["sdqn-test-constraints"], search=[TEST_YANG])
        content = _probe_content()
    else:
        schema, reference = _schemas([*NETCONF_MODULES, "sdqn-types", name])
        content = _config_only(schema, (INSTANCES / f"{name}.json").read_text())
    _WORLDS[name] = World(schema, reference, content)
    return _WORLDS[name]


WORLD_NAMES = ("product", "random", "test", "probe", "sdqn-qroadm", "sdqn-repeater",
               "sdqn-end-node", "sdqn-apc")

# ----------------------------------------------------------------------------------------
# data helpers


def _parent(node: NodePtr) -> NodePtr:
    return ffi.cast("struct lyd_node *", node.parent)


def _all_nodes(first: NodePtr) -> Iterator[NodePtr]:
    stack = []
    node = first
    while node != NULL:
        stack.append(node)
        node = node.next
    while stack:
        node = stack.pop()
        yield node
        child = lib.lyd_child(node)
        while child != NULL:
            stack.append(child)
            child = child.next


def _settable_leaves(forest: Forest) -> list[NodePtr]:
    """Every instance of a non-key configuration leaf (defaults included)."""
    return [n for n in _all_nodes(forest.first)
            if n.schema.nodetype == lib.LYS_LEAF and not n.schema.flags & lib.LYS_KEY
            and not n.schema.flags & lib.LYS_CONFIG_R]


def _value(node: NodePtr) -> str:
    return c2s(lib.lyd_get_value(node)) or ""


_STEP = re.compile(r"^(?:(?P<module>[\w.-]+):)?(?P<name>[\w.-]+)(?P<predicates>(?:\[.*\])?)$")
_PREDICATE = re.compile(r"\[([\w.-]+)='([^']*)'\]")


def _steps(path: str) -> list[tuple[str | None, str, dict[str, str]]]:
    steps = []
    for part in path_steps(path):
        match = _STEP.match(part)
        assert match, part
        keys = dict(_PREDICATE.findall(match["predicates"]))
        steps.append((match["module"], match["name"], keys))
    return steps


def edit_config(schema: Schema, changes: Sequence[tuple[str, str]]) -> etree._Element:
    """An edit-config <config> setting each (data path, value)."""
    namespaces = {m.name(): c2s(m.cdata.ns) for m in schema.ctx if m.implemented()}
    root = etree.Element(f"{{{NC}}}config", nsmap={"nc": NC, **namespaces})
    for path, value in changes:
        parent, module = root, ""
        steps = _steps(path)
        for index, (step_module, name, keys) in enumerate(steps):
            module = step_module or module
            tag = f"{{{namespaces[module]}}}{name}"
            if index == len(steps) - 1:
                etree.SubElement(parent, tag).text = value
                break
            found = next((c for c in parent.findall(tag)
                          if all(c.findtext(f"{{{namespaces[module]}}}{k}") == v
                                 for k, v in keys.items())), None)
            if found is None:
                found = etree.SubElement(parent, tag)
                for key, key_value in keys.items():
                    etree.SubElement(found, f"{{{namespaces[module]}}}{key}").text = key_value
            parent = found
    return root


def _seen_by_a_when(schema: Schema, leaf: NodePtr) -> bool:
    address = int(ffi.cast("uintptr_t", leaf.schema))
    return any(c.kind in (Kind.WHEN, Kind.OPAQUE)
               for c in schema.constraints.observers.get(address, ()))


def _may_flip_a_when(schema: Schema, forest: Forest, changes: Sequence[tuple[str, str]]
                     ) -> bool:
    """Whether a leaf of the edit is seen by a when (see the module docstring)."""
    return any(_seen_by_a_when(schema, forest.find(path)) for path, _ in changes)


def _outcome(store: NmdaStore, config: etree._Element) -> list[tuple[str, str, str, str]]:
    try:
        store.edit_xml(R, config)
    except NetconfError as exc:
        return [(e.tag.value, e.app_tag or "", e.path or "", e.message) for e in exc.errors]
    return []


def _content(store: NmdaStore) -> str:
    return store.forest(R).print("json", with_defaults=WithDefaults.REPORT_ALL_TAGGED)


@st.composite
def leaf_edits(draw: st.DrawFn, forest: Forest) -> list[tuple[str, str]]:
    leaves = _settable_leaves(forest)
    values = sorted({_value(n) for n in _all_nodes(forest.first)
                     if n.schema.nodetype & (lib.LYS_LEAF | lib.LYS_LEAFLIST)})
    observed = [n for n in leaves if not forest.schema.leaf_is_free(n.schema)] or leaves
    picked = draw(st.lists(st.one_of(st.sampled_from(observed), st.sampled_from(leaves)),
                           min_size=1, max_size=3,
                           unique_by=lambda n: int(ffi.cast("uintptr_t", n))))
    if len(picked) > 1 and any(_seen_by_a_when(forest.schema, n) for n in picked):
        # The full validation may then delete a node holding another leaf of the same
        # edit, which the engine's journal still names (see the module docstring).
        picked = picked[:1]
    edits = []
    for leaf in picked:
        same_schema = sorted({_value(n) for n in leaves if n.schema == leaf.schema})
        value = draw(st.one_of(st.sampled_from(same_schema), st.sampled_from(values),
                               st.sampled_from(GENERIC_VALUES)))
        edits.append((node_path(leaf), value))
    return edits


# ----------------------------------------------------------------------------------------
# equivalence


@pytest.mark.parametrize("name", WORLD_NAMES)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_targeted_verdict_equals_full_validation(name: str, data: st.DataObject) -> None:
    w = world(name)
    targeted, reference = w.stores()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        changes = data.draw(leaf_edits(targeted.forest(R)), label="changes")
        config = edit_config(w.schema, changes)
        before = _content(targeted)
        outcome = _outcome(targeted, config)
        assert outcome == _outcome(reference, config), changes
        after = _content(targeted)
        assert after == _content(reference), changes
        if outcome and not _may_flip_a_when(w.schema, targeted.forest(R), changes):
            assert after == before, "a refused edit left the datastore changed"


# ----------------------------------------------------------------------------------------
# explicit cases per constraint kind


def _leaf(store: NmdaStore, path: str) -> NodePtr:
    node = store.forest(R).find(path)
    assert node != NULL, path
    return node


def _planned(store: NmdaStore, path: str) -> list[tuple[Kind, str]] | None:
    """What the targeted check would evaluate after a change of `path`: (kind, instance)."""
    work = store.schema.constraints.plan(store.forest(R).first, [_leaf(store, path)])
    return None if work is None else sorted(((c.kind, node_path(n)) for c, n in work),
                                         key=lambda item: (item[0].value, item[1]))


def _decides(store: NmdaStore, path: str, value: str) -> bool:
    """Whether the targeted check alone accepts `path` set to `value` (set, judged, and
    set back; the datastore is left as it was)."""
    node = _leaf(store, path)
    old = _value(node)
    assert ly.change_term(node, value) == 0
    try:
        return store.schema.constraints.holds(store.forest(R).first, [node])
    finally:
        ly.change_term(node, old)


QN = ("/ietf-network:networks/network[network-id='metro']/node[node-id='{}']/"
      "sdqn-topology:quantum-node/{}")
T2 = QN.format("alice", "coherence-time")
DRIFT = "/sdqn-controller:controller/service-assurance/polarisation-drift-clear-threshold"
ALARMS = "/ietf-alarms:alarms/control/notify-status-changes"


@pytest.fixture
def product() -> NmdaStore:
    store, _ = world("product").stores()
    return store


def test_a_must_is_evaluated_only_at_the_instance_that_sees_the_leaf(
        product: NmdaStore) -> None:
    assert _planned(product, T2) == [(Kind.MUST, T2.rsplit("/", 1)[0])]
    assert _decides(product, T2, "2.5")
    product.edit_xml(R, edit_config(product.schema, [(T2, "2.5")]))
    assert _value(_leaf(product, T2)) == "2.5"


def test_a_must_violation_is_reported_like_the_full_validation(product: NmdaStore) -> None:
    """memory-qubits = 0 or coherence-time: qr1 has no coherence-time."""
    path = QN.format("qr1", "memory-qubits")
    assert not _decides(product, path, "5")
    before = _content(product)
    errors = _outcome(product, edit_config(product.schema, [(path, "5")]))
    assert errors == [("operation-failed", "must-violation", path.rsplit("/", 1)[0],
                       "A node with memory qubits needs a coherence-time.")]
    assert _content(product) == before


def test_a_must_comparing_two_leaves(product: NmdaStore) -> None:
    assert _planned(product, DRIFT) == [(Kind.MUST, DRIFT)]
    assert _decides(product, DRIFT, "0.0015")
    assert not _decides(product, DRIFT, "0.5")
    errors = _outcome(product, edit_config(product.schema, [(DRIFT, "0.5")]))
    assert [e[:3] for e in errors] == [("operation-failed", "must-violation", DRIFT)]
    assert errors[0][3].startswith("polarisation-drift-clear-threshold must not exceed")


def test_a_leafref_is_resolved_for_the_changed_leaf_only(product: NmdaStore) -> None:
    """...and the request's other must (destination differs from source) is re-checked."""
    request = "/sdqn-services:entanglement-services/request[name='qkd-alice-bob']"
    path = f"{request}/source-node"
    assert _planned(product, path) == [(Kind.LEAFREF, path),
                                       (Kind.MUST, f"{request}/destination-node")]
    assert _decides(product, path, "charlie")
    assert not _decides(product, path, "ghost")
    errors = _outcome(product, edit_config(product.schema, [(path, "ghost")]))
    assert errors[0][:3] == ("data-missing", "instance-required", path)


def test_a_when_that_would_create_its_node_is_left_to_the_full_validation(
        product: NmdaStore) -> None:
    """q-roadm exists only for device-kind q-roadm: libyang creates its defaults."""
    path = QN.format("r1", "device-kind")
    assert Kind.WHEN in {kind for kind, _ in _planned(product, path) or []}
    assert not _decides(product, path, "sdqn-types:q-roadm")
    assert _outcome(product, edit_config(product.schema, [(path, "sdqn-types:q-roadm")])) == []
    assert product.forest(R).find(QN.format("r1", "q-roadm")) != NULL


def test_a_when_that_would_delete_its_node_is_left_to_the_full_validation(
        product: NmdaStore) -> None:
    """notify-severity-level exists only while notify-status-changes is severity-level."""
    assert not _decides(product, ALARMS, "all-state-changes")


def test_a_when_that_keeps_its_verdict_is_decided_here() -> None:
    w = world("product")
    store = NmdaStore(w.schema)
    doc = json.loads(w.content)
    doc["ietf-alarms:alarms"] = {"control": {"notify-status-changes": "all-state-changes"}}
    store.copy(R, content=json.dumps(doc))
    assert {kind for kind, _ in _planned(store, ALARMS) or []} == {Kind.MUST, Kind.WHEN}
    assert _decides(store, ALARMS, "raise-and-clear")
    assert not _decides(store, ALARMS, "severity-level")  # the must wants the level too


def test_a_unique_clash_is_found_among_the_siblings() -> None:
    store, _ = world("test").stores()
    path = "/sdqn-test:device[name='b']/address"
    assert _planned(store, path) == [(Kind.UNIQUE, "/sdqn-test:device[name='b']")]
    assert _decides(store, path, "w")
    assert not _decides(store, path, "x")
    before = _content(store)
    errors = _outcome(store, edit_config(store.schema, [(path, "x")]))
    assert [e[:2] for e in errors] == [("operation-failed", "data-not-unique")]
    assert _content(store) == before


def test_device_module_unique_and_when() -> None:
    store, _ = world("sdqn-qroadm").stores()
    wavelength = "/sdqn-qroadm:q-roadm/channel[channel-id='{}']/wavelength"
    taken = _value(_leaf(store, wavelength.format(1)))
    assert _decides(store, wavelength.format(2), "1500.0")
    assert not _decides(store, wavelength.format(2), taken)
    # circuit or packet exists by switching-mode: libyang would delete one, create the other
    assert not _decides(store, "/sdqn-qroadm:q-roadm/switching-mode", "packet")


def test_a_candidate_commit_is_checked_the_same_way(product: NmdaStore) -> None:
    product.edit_xml(C, edit_config(product.schema, [(T2, "4.5")]))
    product.commit()
    assert _value(_leaf(product, T2)) == "4.5"
    product.edit_xml(C, edit_config(product.schema, [(DRIFT, "0.5")]),
                     test_option=TestOption.SET)
    with pytest.raises(NetconfError) as info:
        product.commit()
    assert (info.value.first.app_tag, info.value.first.path) == ("must-violation", DRIFT)


def test_unindexed_changes_are_left_to_the_full_validation(product: NmdaStore) -> None:
    store, _ = world("test").stores()
    assert _planned(store, "/sdqn-test:device[name='a']/name") is None  # a key
    assert _planned(product, "/ietf-alarms:alarms/control/notify-severity-level") is None


def test_every_constraint_kind_is_indexed() -> None:
    kinds = {c.kind for c in world("product").schema.constraints.constraints}
    kinds |= {c.kind for c in world("sdqn-qroadm").schema.constraints.constraints}
    kinds |= {c.kind for c in world("sdqn-repeater").schema.constraints.constraints}
    assert kinds == set(Kind)  # opaque: the repeater's leaf-list of leafrefs


def test_parent_steps_are_atoms_and_set_the_scope() -> None:
    """libyang's atoms include what `..` passes through, so the scope of
    `. != ../source-node` is the request entry: only that entry's must is evaluated."""
    schema = world("product").schema
    must = next(c for c in schema.constraints.constraints
                if c.kind is Kind.MUST and c2s(c.expr) == ". != ../source-node")
    raw = lib.lysc_path(must.scope, lib.LYSC_PATH_DATA, NULL, 0)
    try:
        assert c2s(raw) == "/sdqn-services:entanglement-services/request"
    finally:
        lib.free(raw)


def test_a_parent_step_from_a_top_level_entry_reaches_its_siblings() -> None:
    """The root above a top-level list has no schema node, so libyang lists no atom for
    it: the must of every entry is evaluated when the anchor's value changes."""
    store, _ = world("probe").stores()
    anchor = "/sdqn-test-constraints:item[name='anchor']/value"
    assert _planned(store, anchor) == [
        (Kind.MUST, f"/sdqn-test-constraints:item[name='{name}']") for name in ("a", "anchor",
                                                                               "b")]
    assert _decides(store, anchor, "6")
    assert not _decides(store, anchor, "4")  # b (5) would exceed it
    errors = _outcome(store, edit_config(store.schema, [(anchor, "4")]))
    assert errors[0][1:] == ("must-violation", "/sdqn-test-constraints:item[name='b']",
                             "No item may exceed the anchor's value.")


def test_whens_on_cases_unions_and_instance_identifiers_are_not_decided(
        ) -> None:
    store, _ = world("probe").stores()
    assert _planned(store, "/sdqn-test-constraints:box/open") is None
    assert _planned(store, "/sdqn-test-constraints:box/lid-colour") is None
    assert _planned(store, "/sdqn-test-constraints:item[name='b']/link") is None
    assert _planned(store, "/sdqn-test-constraints:item[name='a']/target") is None
    assert _planned(store, "/sdqn-test-constraints:item[name='a']/tag") is None
    # the when a uses gives tag is evaluated at its context, the item
    marked = "/sdqn-test-constraints:item[name='{}']/marked"
    assert _planned(store, marked.format("a")) == [
        (Kind.WHEN, "/sdqn-test-constraints:item[name='a']")]
    assert _decides(store, marked.format("b"), "true")  # b has no tag (and no default)
    assert not _decides(store, marked.format("a"), "false")  # libyang would delete a's tag


def test_the_string_value_of_a_container_is_read_from_its_leaves() -> None:
    """libyang lists `label` as the atom; its leaves make up its value (XPath 1.0 §5.2;
    libyang renders it as indented lines of the leaves' values)."""
    store, _ = world("probe").stores()
    last = "/sdqn-test-constraints:box/label/last"
    assert _planned(store, last) == [(Kind.MUST, "/sdqn-test-constraints:box")]
    assert _decides(store, last, "fine")
    assert not _decides(store, last, "forbidden")
    errors = _outcome(store, edit_config(store.schema, [(last, "forbidden")]))
    assert errors[0][1:] == ("must-violation", "/sdqn-test-constraints:box",
                             "The label must not say forbidden.")


@pytest.mark.parametrize(("expr", "steps"), [
    ("memory-qubits = 0 or coherence-time", {"memory-qubits"}),
    ("count(channel) <= wavelength-channels", {"wavelength-channels"}),
    ("../nw:network-types/sdqn-topo:quantum-network", set()),
    ("not(../item[name = 'anchor']) or ../item[name = 'anchor']/value >= value",
     {"name", "value"}),
    (". != ../../wavelength", {".", "wavelength"}),
    ("string-length() > 2", {"."}),
    ("current()/../x = 1", {"x"}),
    ("not(contains(label, 'forbidden'))", {"label"}),
    ("a or b = c", {"b", "c"}),
    ("x[a or b]", set()),
    ("(a) = 1", {"a"}),
    ("'unterminated", {".."}),
    ("../* = 'x'", {".."}),
])
def test_which_nodes_an_expression_takes_the_value_of(expr: str, steps: set[str]) -> None:
    assert value_steps(expr) == steps


@pytest.mark.parametrize(("expr", "anywhere"), [
    ("memory-qubits = 0 or coherence-time", False),
    (". != ../../wavelength", False),
    ("count(channel) <= wavelength-channels", False),
    ("sum(../flow/memory-slots) <= register-count", False),
    ("../../cross-connect[name = current()]/source/degree = ../source/degree", False),
    ("derived-from-or-self(../device-kind, 'sdqn-types:q-roadm')", False),
    ("not(source/degree = destination/degree)", False),
    ("'/literal/' = .", False),
    ("/nw:networks/nw:network/nw:node/nw:node-id", True),
    ("enabled = 'false' or /a:x", True),
    ("deref(.)/../a:b", True),
    ("following-sibling::a:entry", True),
    ("count(//a:x) > 0", True),
    ("2 * /a:x > 1", True),
    ("unknown-function(.)", True),
    ("$var", True),
])
def test_which_expressions_can_leave_their_atoms_subtree(expr: str, anywhere: bool) -> None:
    assert reaches_anywhere(expr) is anywhere


def test_a_targeted_edit_leaves_what_the_full_validation_would(product: NmdaStore) -> None:
    """Validating a forest changed on the targeted path whole finds nothing to report and
    nothing to add or remove (no default created, no node deleted)."""
    product.edit_xml(R, edit_config(product.schema, [(T2, "3.25"),
                                                     (QN.format("bob", "coherence-time"),
                                                      "0.75")]))
    forest = product.forest(R)
    before = forest.print("json", with_defaults=WithDefaults.REPORT_ALL_TAGGED)
    assert validate_forest(forest, forest.top_modules()) == []
    assert forest.print("json", with_defaults=WithDefaults.REPORT_ALL_TAGGED) == before
