"""The ncclient internals `southbound.transport.WakeableSSHSession` relies on.

The wake-up transport replaces ncclient's session loop (`Session.run`) and so reaches into
members ncclient does not document: nine private ones, the SAX/DOM parser switch and the
base-protocol marker. pyproject bounds ncclient to the versions checked here; these tests
fail, naming the member, when an upgrade renames, removes or reshapes one of them, so an
upgrade is a reviewed change instead of a session loop that breaks at run time.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Callable
from typing import Any

import paramiko
import pytest
from ncclient import manager as nc_manager
from ncclient.transport import parser as nc_parser
from ncclient.transport import session as nc_session
from ncclient.transport.ssh import SSHSession

from southbound.transport import WakeableSSHSession, connect
from tests.southbound.conftest import Device

# Private methods the transport calls, with the parameters (after self) it passes and
# whether SSHSession must implement them itself (Session's versions raise
# NotImplementedError).
PRIVATE_METHODS: dict[str, tuple[tuple[str, ...], bool]] = {
    "_send_ready": ((), True),  # may the channel take more bytes (paramiko send window)
    "_transport_write": (("data",), True),  # write framed bytes, returns the count written
    "_transport_read": ((), True),  # read what the channel has
    "_dispatch_error": (("err",), False),  # hand a loop error to the listeners
}

# Names the stock loop that `WakeableSSHSession.run` replaces refers to (ncclient 0.7.1).
# A change means the stock loop does something new (or stops doing something): read the
# new `Session.run` and carry the change into `WakeableSSHSession.run`, then update this.
STOCK_RUN_NAMES = frozenset({
    "BASE_11", "DefaultSelector", "DefaultXMLParser", "END_DELIM", "EVENT_READ", "Exception",
    "MSG_DELIM", "NetconfBase", "SAXFilterXMLNotFoundError", "SessionCloseError", "TICK",
    "__class__", "__name__", "_base", "_buffer", "_closing", "_dispatch_error", "_q",
    "_send_ready", "_transport_read", "_transport_register", "_transport_write", "close",
    "debug", "empty", "encode", "get", "getvalue", "info", "is_set", "len", "logger",
    "ncclient", "parse", "parser", "select", "selectors", "transport",
})


def _params(method: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(method).parameters)[1:]  # without self


@pytest.fixture
def unconnected() -> SSHSession:
    return WakeableSSHSession(nc_manager.make_device_handler({"name": "default"}))


@pytest.mark.parametrize("name", sorted(PRIVATE_METHODS))
def test_private_methods_keep_their_signature(name: str) -> None:
    params, ssh_specific = PRIVATE_METHODS[name]
    method = getattr(SSHSession, name, None)
    assert callable(method), f"ncclient SSHSession.{name} is gone; the wake-up loop calls it"
    assert _params(method) == params, (
        f"ncclient SSHSession.{name} now takes {_params(method)}, the wake-up loop passes "
        f"{params}")
    if ssh_specific:
        assert method is not getattr(nc_session.Session, name, None), (
            f"ncclient SSHSession.{name} is no longer implemented for SSH (only the base "
            "Session's placeholder is left); the wake-up loop calls it on the SSH channel")


def test_private_state_set_by_the_constructor(unconnected: SSHSession) -> None:
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "_closing": (lambda v: isinstance(v, threading.Event), "a threading.Event"),
        "_q": (lambda v: isinstance(v, queue.Queue), "a queue.Queue of outgoing messages"),
        "_buffer": (lambda v: callable(getattr(v, "getvalue", None)),
                    "a buffer with getvalue() (quoted in SessionCloseError)"),
        "_base": (lambda v: v == nc_session.NetconfBase.BASE_10,
                  "NetconfBase.BASE_10 until the hello selects base:1.1"),
        "_channel": (lambda v: v is None, "None until connect() opens the SSH channel"),
        "parser": (lambda v: callable(getattr(v, "parse", None)),
                   "a parser with parse(bytes)"),
        "logger": (lambda v: callable(getattr(v, "debug", None)), "a logger"),
    }
    for name, (ok, expected) in checks.items():
        assert hasattr(unconnected, name), f"ncclient SSHSession no longer sets {name}"
        assert ok(getattr(unconnected, name)), (
            f"ncclient SSHSession.{name} is {getattr(unconnected, name)!r}, expected {expected}")


def test_private_state_after_the_hello(make_device: Callable[[str], Device]) -> None:
    device = make_device("apc-1")
    mgr = connect(host="127.0.0.1", port=device.endpoint.port, username="admin",
                  password="admin", timeout=10)
    try:
        session = mgr._session
        assert isinstance(session._channel, paramiko.Channel), (
            f"ncclient SSHSession._channel is {session._channel!r} after connect, expected "
            "the paramiko.Channel the wake-up loop selects on")
        assert session._base == nc_session.NetconfBase.BASE_11, (
            "ncclient SSHSession._base did not switch to NetconfBase.BASE_11 after a hello "
            "with base:1.1 on both sides; the wake-up loop frames chunks by it (RFC 6242 §4.2)")
    finally:
        mgr.close_session()


def test_base_protocol_markers() -> None:
    base = nc_session.NetconfBase
    assert hasattr(base, "BASE_10") and hasattr(base, "BASE_11"), (
        "ncclient NetconfBase.BASE_10/BASE_11 are gone; the wake-up loop frames by them")
    assert base.BASE_10 != base.BASE_11


def test_parser_fallback_members(unconnected: SSHSession) -> None:
    assert issubclass(nc_parser.SAXFilterXMLNotFoundError, Exception), (
        "ncclient transport.parser.SAXFilterXMLNotFoundError is gone or no exception; the "
        "wake-up loop catches it to fall back to DOM parsing")
    assert _params(nc_parser.DefaultXMLParser.__init__) == ("session",), (
        "ncclient DefaultXMLParser(session) changed its constructor; the wake-up loop builds "
        "one on the SAX fallback")
    assert callable(getattr(nc_parser.DefaultXMLParser(unconnected), "parse", None)), (
        "ncclient DefaultXMLParser has no parse(); the wake-up loop feeds it bytes")


def test_constructor_and_connect_take_what_the_transport_passes() -> None:
    assert _params(SSHSession.__init__) == ("device_handler",), (
        f"ncclient SSHSession.__init__ now takes {_params(SSHSession.__init__)}; "
        "WakeableSSHSession passes (device_handler)")
    passed = {"host", "port", "username", "password", "key_filename", "hostkey_verify",
              "look_for_keys", "allow_agent", "timeout", "sock"}
    missing = passed - set(_params(SSHSession.connect))
    assert not missing, f"ncclient SSHSession.connect no longer takes {sorted(missing)}"
    assert {"session", "device_handler", "timeout"} <= set(_params(nc_manager.Manager.__init__)), (
        "ncclient Manager(session, device_handler, timeout=) changed its constructor")


def test_stock_loop_is_the_one_the_transport_replaces() -> None:
    names = frozenset(nc_session.Session.run.__code__.co_names)
    assert names == STOCK_RUN_NAMES, (
        "ncclient Session.run changed (now also uses "
        f"{sorted(names - STOCK_RUN_NAMES)}, no longer uses {sorted(STOCK_RUN_NAMES - names)}); "
        "WakeableSSHSession.run replaces it: port the change, then update STOCK_RUN_NAMES")
