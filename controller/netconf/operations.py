"""The protocol operations: RFC 6241 §7-8, RFC 8526 (NMDA), RFC 6022 get-schema,
RFC 5277 create-subscription, plus the extra rpcs a server is given.

Each handler validates its parameters (unknown element → unknown-element, missing one →
missing-element, bad value → invalid-value/bad-element, RFC 6241 Appendix A), checks
NACM, and calls the store; the store raises NetconfError for everything else. Handlers
return the reply body (b"<ok/>" for a bare success).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import libyang
from lxml import etree

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.nmda import MAX_CONFIRM_TIMEOUT_S, Datastore, ErrorOption, TestOption
from controller.datastore.sessions import ChangeNote
from controller.datastore.tree import Forest, WithDefaults
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf import views
from controller.netconf.actions import YANG_NS, Actions, op_root
from controller.netconf.contracts import NetconfSession, SessionClosing
from controller.netconf.core import ServerCore, SessionContext
from controller.netconf.filters import match_notification
from controller.netconf.nacm import UserAccess, access_denied
from controller.netconf.notifications import NETCONF_STREAM, Subscription
from controller.netconf.paths import xpath_to_json
from controller.netconf.xml import (
    DS_NS,
    MONITORING_NS,
    NC_NS,
    NMDA_NS,
    NOTIF_NS,
    OK,
    ORIGIN_NS,
    WD_NS,
    bad_element,
    children,
    missing_element,
    qname,
    render_errors,
    text_of,
    unknown_element,
)
from controller.netconf.xpath_cost import check_xpath_cost

Handler = Callable[[NetconfSession, etree._Element], bytes]

_MODULE_OF_NS = {NC_NS: "ietf-netconf", NMDA_NS: "ietf-netconf-nmda",
                 MONITORING_NS: "ietf-netconf-monitoring", NOTIF_NS: "notifications"}
_CONFIG_SOURCES = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP)
#: Leaves another module may add to <commit> (sdqn-controller does) that this server
#: understands: they become the commit's ChangeNote, kept by the commit history.
COMMIT_NOTES = ("label", "comment")


class Params:
    """The parameters of one operation, checked against the names it accepts."""

    def __init__(self, op: etree._Element, accepted: Mapping[str, str | tuple[str, ...]]
                 ) -> None:
        self.op_name = etree.QName(op).localname
        self.items: dict[str, list[etree._Element]] = {}
        for child in children(op):
            ns, name = qname(child)
            allowed = accepted.get(name, ())
            if ns not in (allowed if isinstance(allowed, tuple) else (allowed,)):
                raise unknown_element(name, self.op_name)
            self.items.setdefault(name, []).append(child)

    def get(self, name: str) -> etree._Element | None:
        found = self.items.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[etree._Element]:
        return self.items.get(name, [])

    def require(self, name: str) -> etree._Element:
        el = self.get(name)
        if el is None:
            raise missing_element(name, self.op_name)
        return el

    def text(self, name: str) -> str | None:
        el = self.get(name)
        return text_of(el) if el is not None else None


def _nc(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, NC_NS)


def _choice(el: etree._Element, allowed: tuple[Datastore, ...], *, config_ok: bool = False
            ) -> Datastore | etree._Element:
    """<target>/<source> content: one datastore element, or <config> where allowed."""
    items = list(children(el))
    if len(items) != 1:
        raise bad_element(etree.QName(el).localname,
                          f"<{etree.QName(el).localname}> needs exactly one datastore",
                          ErrorTag.MISSING_ELEMENT if not items else ErrorTag.BAD_ELEMENT)
    ns, name = qname(items[0])
    if ns == NC_NS and name == "config" and config_ok:
        return items[0]
    if ns == NC_NS and name == "url":
        raise bad_element("url", ":url is not supported", ErrorTag.OPERATION_NOT_SUPPORTED)
    if ns == NC_NS and name in {d.value for d in allowed}:
        return Datastore(name)
    raise bad_element(name, f"<{name}> is not a valid {etree.QName(el).localname} here",
                      ErrorTag.INVALID_VALUE)


def _datastore(el: etree._Element, allowed: tuple[Datastore, ...]) -> Datastore:
    found = _choice(el, allowed)
    assert isinstance(found, Datastore)
    return found


def _enum(value: str | None, kind: type, name: str, default: object) -> object:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise bad_element(name, f"invalid {name} {value!r}", ErrorTag.INVALID_VALUE) from None


def _identity(el: etree._Element, namespace: str) -> str:
    """Local name of an identityref value that must belong to `namespace`."""
    prefix, sep, local = text_of(el).rpartition(":")
    ns = el.nsmap.get(prefix or None) if sep else namespace
    if ns != namespace or not local:
        raise bad_element(etree.QName(el).localname,
                          f"unknown identity {text_of(el)!r}", ErrorTag.INVALID_VALUE)
    return local


def _with_defaults(el: etree._Element | None) -> WithDefaults:
    if el is None:
        return WithDefaults.EXPLICIT
    value = _enum(text_of(el), WithDefaults, "with-defaults", WithDefaults.EXPLICIT)
    assert isinstance(value, WithDefaults)
    return value


def _data_body(forest: Forest, with_defaults: WithDefaults, namespace: str | None = None,
               *, keep_empty: bool = False) -> bytes:
    try:
        text = views.print_xml(forest, with_defaults, keep_empty=keep_empty)
    finally:
        forest.free()
    start = f'<data xmlns="{namespace}">' if namespace else "<data>"
    return start.encode() + text + b"</data>"


def augmented_input(core: ServerCore, module: str, rpc: str) -> dict[str, str]:
    """Input leaves other modules add to `module`'s `rpc` (RFC 7950 §7.17 augment), as
    local name → namespace; empty when the module is not in the schema."""
    if core.namespace_of(module) is None:
        return {}
    found: dict[str, str] = {}
    for node in core.store.schema.ctx.get_module(module).children():
        rpc_input = node.input() if isinstance(node, libyang.SRpc) and node.name() == rpc \
            else None
        for leaf in rpc_input.children() if rpc_input is not None else ():
            owner = leaf.module().name()
            namespace = core.namespace_of(owner)
            if owner != module and namespace is not None:
                found[leaf.name()] = namespace
    return found


class Operations:
    def __init__(self, core: ServerCore) -> None:
        self.core = core
        self.store = core.store
        self.actions = Actions(core)
        self._commit_notes = {name: ns for name, ns in
                              augmented_input(core, "ietf-netconf", "commit").items()
                              if name in COMMIT_NOTES}
        self.table: dict[tuple[str, str], Handler] = {
            (NC_NS, "get"): self.get,
            (NC_NS, "get-config"): self.get_config,
            (NC_NS, "edit-config"): self.edit_config,
            (NC_NS, "copy-config"): self.copy_config,
            (NC_NS, "delete-config"): self.delete_config,
            (NC_NS, "lock"): self.lock,
            (NC_NS, "unlock"): self.unlock,
            (NC_NS, "close-session"): self.close_session,
            (NC_NS, "kill-session"): self.kill_session,
            (NC_NS, "commit"): self.commit,
            (NC_NS, "cancel-commit"): self.cancel_commit,
            (NC_NS, "discard-changes"): self.discard_changes,
            (NC_NS, "validate"): self.validate,
            (NMDA_NS, "get-data"): self.get_data,
            (NMDA_NS, "edit-data"): self.edit_data,
            (MONITORING_NS, "get-schema"): self.get_schema,
            (NOTIF_NS, "create-subscription"): self.create_subscription,
        }

    # -- dispatch ------------------------------------------------------------------------

    def dispatch(self, session: NetconfSession, op: etree._Element) -> bytes:
        ns, name = qname(op)
        key = f"{{{ns}}}{name}"
        if (ns, name) == (YANG_NS, "action") and key not in self.core.extra_rpcs:
            # (a server that handles <action> itself, an emulated device, registers it
            # as an extra rpc instead of per-action handlers)
            return self.action(session, op)
        handler = self.table.get((ns or "", name))
        extra = self.core.extra_rpcs.get(key)
        if handler is None and extra is None:
            if ns is None or (ns not in _MODULE_OF_NS and self.core.module_of(ns) is None):
                raise NetconfError(RpcError(
                    tag=ErrorTag.UNKNOWN_NAMESPACE, type=ErrorType.PROTOCOL,
                    message=f"unknown operation namespace {ns!r}",
                    info=(("bad-element", name), ("bad-namespace", ns or ""))))
            raise NetconfError(RpcError(tag=ErrorTag.OPERATION_NOT_SUPPORTED,
                                        type=ErrorType.PROTOCOL,
                                        message=f"operation {name!r} is not supported",
                                        info=(("bad-element", name),)))
        module = _MODULE_OF_NS.get(ns or "") or self.core.module_of(ns) or ns or ""
        access = self.core.access(session.username)
        if access is not None and not access.rpc_allowed(module, name):
            if self.core.nacm is not None:
                self.core.nacm.denied_operations += 1
            raise access_denied(f"access to operation {name!r} denied",
                                type=ErrorType.PROTOCOL)
        gate = self.core.rpc_gate
        if gate is not None:
            gate(op)
        if extra is not None:
            return self._extra(session, op, extra)
        assert handler is not None
        return handler(session, op)

    def action(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 7950 §7.15.2 <action>: NACM is applied to the action node and its
        ancestors (RFC 8341 §3.4) inside `Actions.invoke`, not to an "action" operation."""
        node = self.actions.parse_xml(op)
        gate = self.core.rpc_gate
        if gate is not None:
            try:
                gate(op)
            except BaseException:
                op_root(node).free()
                raise
        module, output = self.actions.invoke(session.username, node)
        elements = self.actions.reply_elements(module, output)
        return OK if elements is None else b"".join(etree.tostring(el) for el in elements)

    def _extra(self, session: NetconfSession, op: etree._Element,
               handler: Callable[..., object]) -> bytes:
        result = handler(session, op)
        if result is None:
            return OK
        if isinstance(result, list | tuple):
            return b"".join(etree.tostring(el) for el in result)
        assert isinstance(result, etree._Element)
        return bytes(etree.tostring(result))

    # -- filters ---------------------------------------------------------------------------

    def _filter(self, el: etree._Element | None) -> list[str] | None:
        """<filter> of get/get-config (RFC 6241 §6, §8.9): XPaths, or None for all."""
        if el is None:
            return None
        kind = el.get("type") or el.get(f"{{{NC_NS}}}type") or "subtree"
        if kind == "subtree":
            return self.core.compiler.compile(el)
        if kind == "xpath":
            select = el.get("select") or el.get(f"{{{NC_NS}}}select")
            if select is None:
                raise NetconfError(RpcError(tag=ErrorTag.MISSING_ATTRIBUTE,
                                            type=ErrorType.PROTOCOL,
                                            message="xpath filter needs a select attribute",
                                            info=(("bad-attribute", "select"),
                                                  ("bad-element", "filter"))))
            return [self._xpath(select, el)]
        raise NetconfError(RpcError(tag=ErrorTag.BAD_ATTRIBUTE, type=ErrorType.PROTOCOL,
                                    message=f"unknown filter type {kind!r}",
                                    info=(("bad-attribute", "type"), ("bad-element", "filter"))))

    def _xpath(self, expr: str, context: etree._Element) -> str:
        try:
            return xpath_to_json(expr, context.nsmap, self.core.index.by_namespace)
        except KeyError as exc:
            raise bad_element(etree.QName(context).localname,
                              f"XPath prefix {exc.args[0]!r} is not a declared module "
                              "namespace", ErrorTag.INVALID_VALUE) from None

    # -- retrieval ---------------------------------------------------------------------------

    def get(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, {"filter": NC_NS, "with-defaults": WD_NS})
        xpaths = self._filter(params.get("filter"))
        forest = self.core.read(Datastore.OPERATIONAL, xpaths, username=session.username)
        return _data_body(forest, _with_defaults(params.get("with-defaults")))

    def get_config(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, {**_nc("source", "filter"), "with-defaults": WD_NS})
        ds = _datastore(params.require("source"), _CONFIG_SOURCES)
        xpaths = self._filter(params.get("filter"))
        forest = self.core.read(ds, xpaths, username=session.username)
        return _data_body(forest, _with_defaults(params.get("with-defaults")))

    def get_data(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8526 §3.1."""
        params = Params(op, dict.fromkeys(
            ("datastore", "subtree-filter", "xpath-filter", "config-filter", "max-depth",
             "origin-filter", "negated-origin-filter", "with-origin", "with-defaults"),
            NMDA_NS))
        try:
            ds = Datastore(_identity(params.require("datastore"), DS_NS))
        except ValueError:
            raise bad_element("datastore", "unknown datastore",
                              ErrorTag.INVALID_VALUE) from None
        subtree, xpath_el = params.get("subtree-filter"), params.get("xpath-filter")
        if subtree is not None and xpath_el is not None:
            raise bad_element("xpath-filter", "only one filter may be given")
        xpaths: list[str] | None = None
        if subtree is not None:
            xpaths = self.core.compiler.compile(subtree)
        elif xpath_el is not None:
            xpaths = [self._xpath(text_of(xpath_el), xpath_el)]
        origins = [f"ietf-origin:{_identity(el, ORIGIN_NS)}" for el in params.all("origin-filter")]
        negated = [f"ietf-origin:{_identity(el, ORIGIN_NS)}"
                   for el in params.all("negated-origin-filter")]
        with_origin = params.get("with-origin") is not None
        if (origins or negated or with_origin) and ds is not Datastore.OPERATIONAL:
            # RFC 8526 §3.1.1: origin metadata exists only in <operational>.
            raise bad_element("with-origin" if with_origin else "origin-filter",
                              "origin filtering applies to <operational> only",
                              ErrorTag.INVALID_VALUE)
        if origins and negated:
            raise bad_element("negated-origin-filter",
                              "origin-filter and negated-origin-filter exclude each other")
        depth = self._max_depth(params.text("max-depth"))
        config_filter = params.text("config-filter")
        if config_filter not in (None, "true", "false"):
            raise bad_element("config-filter", "config-filter is a boolean",
                              ErrorTag.INVALID_VALUE)
        forest = self.core.read(ds, xpaths, username=session.username,
                                with_origin=with_origin or bool(origins or negated))
        try:
            if config_filter is not None:
                views.filter_config(forest, config_filter == "true")
            if origins or negated:
                views.filter_origin(forest, origins or negated, negated=bool(negated))
                if not with_origin:
                    views.strip_origin(forest)
            if depth is not None:
                views.limit_depth(forest, depth, " | ".join(xpaths) if xpaths else None)
        except BaseException:
            forest.free()
            raise
        return _data_body(forest, _with_defaults(params.get("with-defaults")), NMDA_NS,
                          keep_empty=depth is not None)

    @staticmethod
    def _max_depth(text: str | None) -> int | None:
        if text is None or text == "unbounded":
            return None
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise bad_element("max-depth", f"invalid max-depth {text!r}", ErrorTag.INVALID_VALUE)
        return int(text)

    # -- edits -------------------------------------------------------------------------------

    def edit_config(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, _nc("target", "default-operation", "test-option", "error-option",
                                "config", "url"))
        ds = _datastore(params.require("target"), _CONFIG_SOURCES)
        if params.get("url") is not None:
            raise bad_element("url", ":url is not supported", ErrorTag.OPERATION_NOT_SUPPORTED)
        config = params.require("config")
        default_op = _enum(params.text("default-operation"), Operation, "default-operation",
                           Operation.MERGE)
        if default_op not in (Operation.MERGE, Operation.REPLACE, Operation.NONE):
            raise bad_element("default-operation", "default-operation is merge, replace or "
                              "none", ErrorTag.INVALID_VALUE)
        test_option = _enum(params.text("test-option"), TestOption, "test-option",
                            TestOption.TEST_THEN_SET)
        error_option = _enum(params.text("error-option"), ErrorOption, "error-option",
                             ErrorOption.STOP_ON_ERROR)
        assert isinstance(default_op, Operation)
        assert isinstance(test_option, TestOption) and isinstance(error_option, ErrorOption)
        return self._edit(session, ds, config, default_op, error_option, test_option)

    def edit_data(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8526 §3.2."""
        params = Params(op, dict.fromkeys(("datastore", "default-operation", "config", "url"),
                                          NMDA_NS))
        name = _identity(params.require("datastore"), DS_NS)
        if name not in {d.value for d in _CONFIG_SOURCES}:
            raise bad_element("datastore", f"datastore {name!r} is not writable",
                              ErrorTag.INVALID_VALUE)
        if params.get("url") is not None:
            raise bad_element("url", ":url is not supported", ErrorTag.OPERATION_NOT_SUPPORTED)
        default_op = _enum(params.text("default-operation"), Operation, "default-operation",
                           Operation.MERGE)
        if default_op not in (Operation.MERGE, Operation.REPLACE, Operation.NONE):
            raise bad_element("default-operation", "default-operation is merge, replace or "
                              "none", ErrorTag.INVALID_VALUE)
        assert isinstance(default_op, Operation)
        return self._edit(session, Datastore(name), params.require("config"), default_op,
                          ErrorOption.STOP_ON_ERROR, TestOption.TEST_THEN_SET)

    def _edit(self, session: NetconfSession, ds: Datastore, config: etree._Element,
              default_op: Operation, error_option: ErrorOption, test_option: TestOption
              ) -> bytes:
        nodes: list[EditNode] = self.store.parse_xml(config)
        access = self.core.access(session.username)
        with self.store.atomic():
            if access is not None:
                self._guard(lambda a: a.check_edit(self.store.forest(ds), nodes, default_op),
                            access)
            result = self.store.edit(ds, nodes, default_operation=default_op,
                                     error_option=error_option, test_option=test_option,
                                     session_id=session.session_id)
        if result.errors:
            return render_errors(result.errors, self.core.namespace_of)
        return OK

    def _guard(self, check: Callable[[UserAccess], None], access: UserAccess) -> None:
        try:
            check(access)
        except NetconfError as err:
            if err.first.tag is ErrorTag.ACCESS_DENIED and self.core.nacm is not None:
                self.core.nacm.denied_data_writes += 1
            raise

    def _check_replace(self, access: UserAccess | None, target: Datastore,
                       new: Callable[[], Forest]) -> None:
        """NACM for a write that replaces a whole datastore: check its diff."""
        if access is None or access.writes_unrestricted:
            return
        old, fresh = self.store.view(target), new()
        try:
            self._guard(lambda a: a.check_replace(old, fresh), access)
        finally:
            old.free()
            fresh.free()

    def copy_config(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, {**_nc("target", "source"), "with-defaults": WD_NS})
        target = _datastore(params.require("target"), _CONFIG_SOURCES)
        source = _choice(params.require("source"), _CONFIG_SOURCES, config_ok=True)
        access = self.core.access(session.username)
        with self.store.atomic():
            if isinstance(source, Datastore):
                self._check_replace(access, target, lambda: self.store.view(source))
                self.store.copy(target, source=source, session_id=session.session_id)
            else:
                self.replace(session, target, "".join(etree.tostring(c, encoding="unicode")
                                                      for c in children(source)), "xml")
        return OK

    def replace(self, session: SessionContext, target: Datastore, content: str, fmt: str
                ) -> None:
        """Replace a whole datastore with `content` for the session's user: the write
        NACM checks on the diff (as copy-config, RFC 8341 §3.2.6), the change made by
        the session (its locks apply, its user and host name the change)."""
        with self.store.atomic():
            self._check_replace(self.core.access(session.username), target,
                                lambda: Forest.parse(self.store.schema, content, fmt))
            self.store.copy(target, content=content, fmt=fmt, session_id=session.session_id)

    def delete_config(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, _nc("target"))
        target = _datastore(params.require("target"), tuple(Datastore))
        with self.store.atomic():
            if target is Datastore.STARTUP:   # the store refuses any other (RFC 6241 §7.4)
                self._check_replace(self.core.access(session.username), target,
                                    lambda: Forest(self.store.schema))
            self.store.delete(target, session_id=session.session_id)
        return OK

    def validate(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, _nc("source"))
        source = _choice(params.require("source"), _CONFIG_SOURCES, config_ok=True)
        if isinstance(source, Datastore):
            self.store.validate(source)
        else:
            content = "".join(etree.tostring(c, encoding="unicode") for c in children(source))
            self.store.validate(content=content, fmt="xml")
        return OK

    # -- locks, candidate, sessions ------------------------------------------------------------

    def lock(self, session: NetconfSession, op: etree._Element) -> bytes:
        ds = _datastore(Params(op, _nc("target")).require("target"), _CONFIG_SOURCES)
        self.store.lock_datastore(ds, session.session_id)
        return OK

    def unlock(self, session: NetconfSession, op: etree._Element) -> bytes:
        ds = _datastore(Params(op, _nc("target")).require("target"), _CONFIG_SOURCES)
        self.store.unlock_datastore(ds, session.session_id)
        return OK

    def commit(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 6241 §8.3.4.1 and §8.4.5.1 (confirmed commit 1.1), plus the label and
        comment sdqn-controller adds to its input when the schema has that module."""
        params = Params(op, {**_nc("confirmed", "confirm-timeout", "persist", "persist-id"),
                             **self._commit_notes})
        note = ChangeNote("commit", params.text("label") or "", params.text("comment") or "")
        timeout_text = params.text("confirm-timeout")
        timeout = 600
        if timeout_text is not None:
            # RFC 6241 §8.4.5.1: uint32 seconds; ASCII digits only (str.isdigit also
            # accepts other scripts' digits, which int() may reject)
            if not (timeout_text.isascii() and timeout_text.isdigit()) \
                    or not 1 <= int(timeout_text) <= MAX_CONFIRM_TIMEOUT_S:
                raise bad_element("confirm-timeout", "confirm-timeout is a number of "
                                  f"seconds, 1..{MAX_CONFIRM_TIMEOUT_S} (uint32)",
                                  ErrorTag.INVALID_VALUE)
            timeout = int(timeout_text)
        access = self.core.access(session.username)
        with self.store.atomic(), self.store.sessions.noted(note):
            if self.store.candidate_dirty:
                self._check_replace(access, Datastore.RUNNING,
                                    lambda: self.store.view(Datastore.CANDIDATE))
            self.store.commit(session_id=session.session_id,
                              confirmed=params.get("confirmed") is not None,
                              confirm_timeout=timeout, persist=params.text("persist"),
                              persist_id=params.text("persist-id"))
        return OK

    def cancel_commit(self, session: NetconfSession, op: etree._Element) -> bytes:
        params = Params(op, _nc("persist-id"))
        self.store.cancel_commit(session_id=session.session_id,
                                 persist_id=params.text("persist-id"))
        return OK

    def discard_changes(self, session: NetconfSession, op: etree._Element) -> bytes:
        Params(op, {})
        access = self.core.access(session.username)
        with self.store.atomic():
            if access is not None and access.scope is not None:
                # The candidate is shared: a tenant's discard (candidate := running) may
                # drop its own edits only, as a tenant's commit may carry only its own.
                self._check_replace(access, Datastore.CANDIDATE,
                                    lambda: self.store.view(Datastore.RUNNING))
            self.store.discard_changes(session_id=session.session_id)
        return OK

    def close_session(self, session: NetconfSession, op: etree._Element) -> bytes:
        Params(op, {})
        session.termination_reason = "closed"
        raise SessionClosing

    def kill_session(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 6241 §7.9: abort the session, release its locks, before replying."""
        text = Params(op, _nc("session-id")).require("session-id")
        value = text_of(text)
        if not value.isdigit() or int(value) == 0:
            raise bad_element("session-id", f"invalid session-id {value!r}",
                              ErrorTag.INVALID_VALUE)
        target_id = int(value)
        if target_id == session.session_id:
            raise bad_element("session-id", "a session cannot kill itself (use close-session)",
                              ErrorTag.INVALID_VALUE)
        target = self.core.session(target_id)
        if target is None:
            raise bad_element("session-id", f"no session {target_id}", ErrorTag.INVALID_VALUE)
        target.terminate("killed", killed_by=session.session_id)
        self.store.session_closed(target_id)
        return OK

    # -- schema and notifications ---------------------------------------------------------------

    def get_schema(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 6022 §3.1."""
        params = Params(op, dict.fromkeys(("identifier", "version", "format"), MONITORING_NS))
        identifier = text_of(params.require("identifier"))
        fmt_el = params.get("format")
        fmt = text_of(fmt_el).rpartition(":")[2] if fmt_el is not None else "yang"
        text = self.core.library.schema_text(identifier, params.text("version") or None, fmt)
        return (f'<data xmlns="{MONITORING_NS}">'.encode() + escape(text).encode()
                + b"</data>")

    def create_subscription(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 5277 §2.1.1; <startTime>/<stopTime> replay when the server keeps a replay
        log (Limits.replay_events), refused otherwise."""
        # RFC 5277 puts <filter> in its own namespace; clients (ncclient) often use the
        # base namespace, as in <get>.
        params = Params(op, {"stream": NOTIF_NS, "filter": (NOTIF_NS, NC_NS),
                             "startTime": NOTIF_NS, "stopTime": NOTIF_NS})
        if session.subscription is not None:
            raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                                  "this session already has a subscription",
                                  type=ErrorType.PROTOCOL)
        stream = params.text("stream") or NETCONF_STREAM
        if stream not in self.core.streams:
            raise bad_element("stream", f"no stream {stream!r}", ErrorTag.INVALID_VALUE)
        notifier = self.core.notifier
        replay = notifier is not None and notifier.replay
        for name in ("startTime", "stopTime"):
            if params.get(name) is not None and not replay:
                raise bad_element(name, "event replay is not supported",
                                  ErrorTag.OPERATION_NOT_SUPPORTED)
        start, stop = _replay_window(params)
        flt = params.get("filter")
        if flt is not None and (flt.get("type") or "subtree") == "xpath":
            select = flt.get("select") or ""
            check_xpath_cost(select, self.core.limits.xpath_max_scans)  # run per event
            try:
                compiled = etree.XPath(select, namespaces={k: v for k, v in flt.nsmap.items()
                                                           if k})
            except etree.XPathSyntaxError as exc:
                raise bad_element("filter", f"invalid XPath: {exc}",
                                  ErrorTag.INVALID_VALUE) from None
            subscription = Subscription(stream, lambda c: bool(compiled(c)))
        elif flt is not None:
            subscription = Subscription(stream, lambda c: match_notification(flt, c))
        else:
            subscription = Subscription(stream)
        if notifier is None:
            session.subscription = subscription
        else:
            notifier.subscribe(session, subscription, start, stop)
        return OK


def _replay_window(params: Params) -> tuple[datetime | None, datetime | None]:
    """<startTime> and <stopTime> (yang:date-and-time), checked as RFC 5277 §2.1.1 asks:
    a start in the future or a stop before the start is a bad-element, a stop alone a
    missing-element."""
    times: dict[str, datetime | None] = {}
    for name in ("startTime", "stopTime"):
        text = params.text(name)
        if text is None:
            times[name] = None
            continue
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise bad_element(name, f"{name} is not a date-and-time: {text!r}") from None
        if value.tzinfo is None:
            raise bad_element(name, f"{name} needs a time zone (RFC 3339)")
        times[name] = value
    start, stop = times["startTime"], times["stopTime"]
    if stop is not None and start is None:
        raise bad_element("startTime", "stopTime needs a startTime",
                          ErrorTag.MISSING_ELEMENT)
    if start is not None and start > datetime.now(UTC):
        raise bad_element("startTime", "startTime is in the future")
    if start is not None and stop is not None and stop < start:
        raise bad_element("stopTime", "stopTime is earlier than startTime")
    return start, stop
