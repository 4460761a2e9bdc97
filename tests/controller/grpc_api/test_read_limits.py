"""Reads have bounded cost: an XPath whose whole-tree scans nest too deeply is refused
(resource-denied) before evaluation, and a result over the node cap is refused (too-big:
NETCONF rpc-error, RESTCONF 413, gRPC RESOURCE_EXHAUSTED), on every interface sharing
the core; the session keeps working afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from controller.netconf.server import NetconfServer
from tests.controller.grpc_api.conftest import Stub
from tests.controller.restconf.conftest import Client

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
CUBIC = "//*[count(//*[count(//*) > 0]) > 0]"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
QUADRATIC = ({"nw": NW}, "/nw:networks//*[. = //*]")
NETWORK_IDS = ({"nw": NW}, "/nw:networks/nw:network[nw:network-id='metro']/nw:network-id")


@pytest.fixture
def operator(netconf: NetconfServer) -> Iterator[manager.Manager]:
    mgr = manager.connect(host="127.0.0.1", port=netconf.port, username="operator",
                          password="operator", hostkey_verify=False, look_for_keys=False,
                          allow_agent=False, timeout=30)
    yield mgr
    mgr.close_session()


def netconf_error(call: Callable[[], Any]) -> str:
    with pytest.raises(RPCError) as exc:
        call()
    return str(exc.value.tag)


def get_data(mgr: manager.Manager, xpath: str) -> Any:
    return mgr.dispatch(etree.fromstring(
        f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational</datastore>'
        f"<xpath-filter>{xpath}</xpath-filter></get-data>"))


def test_nested_xpath_is_refused_before_evaluation(operator: manager.Manager,
                                                   netconf: NetconfServer) -> None:
    assert netconf_error(lambda: operator.get(filter=("xpath", CUBIC))) == "resource-denied"
    assert netconf_error(lambda: operator.get_config(
        "running", filter=("xpath", CUBIC))) == "resource-denied"
    assert netconf_error(lambda: get_data(operator, CUBIC)) == "resource-denied"
    # quadratic is within the default limit, and the session is fine
    assert operator.get_config("running", filter=("xpath", QUADRATIC)).ok
    netconf.core.limits.xpath_max_scans = 1
    assert netconf_error(lambda: operator.get_config(
        "running", filter=("xpath", QUADRATIC))) == "resource-denied"
    assert operator.get_config("running", filter=("xpath", NETWORK_IDS)).ok
    assert netconf.session_thread_deaths == 0


def test_result_size_cap_on_every_interface(operator: manager.Manager, netconf: NetconfServer,
                                            client: Client,
                                            stub: Callable[[str | None], Stub],
                                            pb: Any) -> None:
    netconf.core.limits.max_result_nodes = 50
    assert netconf_error(lambda: operator.get_config("running")) == "too-big"
    assert netconf_error(lambda: get_data(operator, "/*")) == "too-big"
    response = client("operator").get("/restconf/data/ietf-network:networks")
    assert response.status_code == 413
    assert response.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "too-big"
    with pytest.raises(grpc.RpcError) as exc:
        stub("operator").GetTopology(pb.GetTopologyRequest())
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # a narrow read still works
    assert operator.get_config("running", filter=("xpath", NETWORK_IDS)).ok
    netconf.core.limits.max_result_nodes = 1_000_000
    assert operator.get_config("running").ok
    assert client("operator").get("/restconf/data/ietf-network:networks").status_code == 200
