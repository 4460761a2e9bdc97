"""Path conversion (JSON-style ↔ XML XPath) and subtree-filter compilation, checked by
evaluating the results on real data: lxml for XML XPaths, libyang for JSON ones."""

from __future__ import annotations

import pytest
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.filters import SubtreeCompiler, match_notification
from controller.netconf.paths import (
    Step,
    parse_path,
    quote_literal,
    to_xml_path,
    xpath_to_json,
)
from tests.controller.netconf.conftest import NW, SVC, TOPO


def _ns(store: NmdaStore) -> dict[str, str]:
    return {module: ns for ns, module in store.index.by_namespace.items()}


def _xml_root(store: NmdaStore) -> etree._ElementTree:
    root = etree.fromstring(f"<root>{store.get(Datastore.RUNNING, fmt='xml')}</root>")
    return etree.ElementTree(root)


def test_parse_path_inherits_modules_and_reads_predicates() -> None:
    steps = parse_path("/ietf-network:networks/network[network-id='m']/"
                       'sdqn-topology:quantum-node/x[.="v\'q"]/y[3]')
    assert steps == [Step("ietf-network", "networks"),
                     Step("ietf-network", "network", (("network-id", "m"),)),
                     Step("sdqn-topology", "quantum-node"),
                     Step("sdqn-topology", "x", ((".", "v'q"),)),
                     Step("sdqn-topology", "y", (("#", "3"),))]
    assert parse_path("/") == []


@pytest.mark.parametrize("path", [
    "/ietf-network:networks/network[network-id='metro']/node[node-id='alice']/"
    "sdqn-topology:quantum-node/coherence-time",
    "/sdqn-services:entanglement-services/request[name='qkd-alice-bob']/demanded-rate",
    "/ietf-network:networks/network[network-id='metro']/ietf-network-topology:link"
    "[link-id='alice-r1']/source/source-node",
])
def test_xml_path_selects_the_same_node(store: NmdaStore, path: str) -> None:
    text, nsmap = to_xml_path(path, _ns(store).get)
    found = _xml_root(store).xpath("/root" + text, namespaces=nsmap)
    assert len(found) == 1
    assert len(store.view(Datastore.RUNNING, xpath=path).find_xpath(path)) == 1


def test_xml_path_keeps_unparseable_paths() -> None:
    assert to_xml_path("not a path", lambda _m: None) == ("not a path", {})
    assert quote_literal("it's") == '"it\'s"'
    assert quote_literal("a'b\"c") == "concat('a', \"'\", 'b\"c')"


def test_xpath_to_json_maps_prefixes_outside_literals(store: NmdaStore) -> None:
    expr = "/n:networks/n:network[n:network-id='n:x']/t:quantum-node | /s:*"
    out = xpath_to_json(expr, {"n": NW, "t": TOPO, "s": SVC}, store.index.by_namespace)
    assert out == ("/ietf-network:networks/ietf-network:network[ietf-network:network-id="
                   "'n:x']/sdqn-topology:quantum-node | /sdqn-services:*")
    with pytest.raises(KeyError):
        xpath_to_json("/zz:networks", {}, store.index.by_namespace)


def _select(store: NmdaStore, subtree: str) -> str:
    paths = SubtreeCompiler(store.index).compile(etree.fromstring(f"<filter>{subtree}</filter>"))
    if not paths:
        return "{}"
    return store.get(Datastore.RUNNING, xpath=" | ".join(paths))


def test_subtree_filter_semantics(store: NmdaStore) -> None:
    # containment + content match on a key: one whole entry (RFC 6241 §6.4.6)
    one = _select(store, f'<entanglement-services xmlns="{SVC}"><request><name>qkd-alice-bob'
                         "</name></request></entanglement-services>")
    assert '"qkd-alice-bob"' in one and '"dqc-charlie-dave"' not in one
    assert '"demanded-rate":"100.0"' in one
    # content match + selection node: only the selected leaf beside the key (§6.4.7)
    sel = _select(store, f'<entanglement-services xmlns="{SVC}"><request><name>qkd-alice-bob'
                         "</name><priority/></request></entanglement-services>")
    assert '"priority":1' in sel and "demanded-rate" not in sel
    # content match on a non-key leaf across entries
    apps = _select(store, f'<entanglement-services xmlns="{SVC}" xmlns:t="urn:sdqn:sdqn-types">'
                          "<request><application>t:dqc</application><name/></request>"
                          "</entanglement-services>")
    assert '"dqc-charlie-dave"' in apps and '"qkd-alice-bob"' not in apps
    # an unknown element selects nothing; a content match that cannot hold neither
    assert _select(store, f'<networks xmlns="{NW}"><bogus/></networks>') == "{}"
    assert _select(store, f'<networks xmlns="{NW}"><network><bogus>1</bogus></network>'
                          "</networks>") == "{}"
    assert _select(store, "") == "{}"  # an empty filter selects nothing (§6.4.2)
    # no namespace: matches in any module (§6.2.1)
    assert '"qkd-alice-bob"' in _select(store, "<entanglement-services/>")


def test_notification_filter() -> None:
    event = etree.fromstring('<alarm xmlns="urn:a"><resource>alice</resource><sev>major</sev>'
                             "</alarm>")
    assert match_notification(etree.fromstring('<f><alarm xmlns="urn:a"/></f>'), event)
    assert match_notification(etree.fromstring(
        '<f><alarm xmlns="urn:a"><resource>alice</resource></alarm></f>'), event)
    assert not match_notification(etree.fromstring(
        '<f><alarm xmlns="urn:a"><resource>bob</resource></alarm></f>'), event)
    assert not match_notification(etree.fromstring('<f><alarm xmlns="urn:b"/></f>'), event)
