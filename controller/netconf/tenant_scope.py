"""Tenant confinement generated from the slice model (sdqn-slices tenant/user).

A tenant's users may see and change only what belongs to the tenant: its slices, the
requests in them, their operational state and alarms, plus the shared topology. The
scope is computed once per policy version (a `Tenancy` maps users, slices and requests
to tenants) and applied by `UserAccess` before the rules stored under /nacm, on every
interface, because every interface decides through `UserAccess`.

What is out of scope is absent, never "access denied": RFC 8341 §3.4.5 prunes denied
nodes silently so that a reply does not reveal that they exist. Writes to another
tenant's request fail exactly as writes to a request that does not exist would (a
delete gets data-missing, a remove is silently ignored: RFC 6241 §7.2); the only
unavoidable tell is a create whose key another tenant's request already uses (request
names are one namespace, RFC 7950 §7.8.2 list keys are unique).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.ly import NodePtr, lib
from controller.datastore.tree import NULL, Forest, schema_name, term_value
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.nodes import children, is_key, module_of
from controller.netconf.paths import PathSyntaxError, Step, parse_path

SERVICES_MODULE = "sdqn-services"
SLICES_MODULE = "sdqn-slices"
ALARMS_MODULE = "ietf-alarms"
SERVICES_TOP = (SERVICES_MODULE, "entanglement-services")

SLICING_TOP = (SLICES_MODULE, "slicing")
ALARMS_TOP = (ALARMS_MODULE, "alarms")
SERVICES_XPATH = "/sdqn-services:entanglement-services"
SLICING_XPATH = "/sdqn-slices:slicing"

# Shared by every tenant: the physical infrastructure (sdqn-slices 'user' says so), the
# server's schema and RESTCONF capabilities and streams (RFC 8040 §9: a client needs
# them to talk to the server at all). Sessions and subscriptions are not: they name
# other users.
SHARED_TOPS = frozenset({("ietf-network", "networks"), ("ietf-yang-library", "yang-library"),
                         ("ietf-yang-library", "modules-state"),
                         ("ietf-restconf-monitoring", "restconf-state")})

# Notifications a tenant user may receive at all; the content decides the rest.
SERVICE_STATE_CHANGE = (SERVICES_MODULE, "service-state-change")
LINK_STATE_CHANGE = ("sdqn-topology", "link-state-change")
ALARM_NOTIFICATION = (ALARMS_MODULE, "alarm-notification")
CONFIG_CHANGE = ("ietf-netconf-notifications", "netconf-config-change")
# RFC 8639 / RFC 8641: the subscriber's own subscription and its updates (whose datastore
# content is read through the same pruning as any other read).
SUBSCRIPTION_MODULES = frozenset({"ietf-subscribed-notifications", "ietf-yang-push"})

# Operations a tenant may not run: the commit history shows every tenant's changes, a
# dry-run or what-if reports the impact on every tenant's services, and a rollback or a
# re-optimisation changes every tenant's service.
TENANT_DENIED_RPCS = frozenset({("sdqn-controller", "list-commits"),
                                ("sdqn-controller", "dry-run"),
                                ("sdqn-controller", "show-commit"),
                                ("sdqn-controller", "diff-commits"),
                                ("sdqn-controller", "rollback-to"),
                                ("sdqn-controller", "optimise")})

_REQUEST_IN_PATH = re.compile(
    r"entanglement-services/(?:[\w.-]+:)?request\[(?:[\w.-]+:)?name=(['\"])(.*?)\1\]")
_SLICE_IN_PATH = re.compile(r"slicing/(?:[\w.-]+:)?slice\[(?:[\w.-]+:)?name=(['\"])(.*?)\1\]")


def tenant_group(tenant: str) -> str:
    """The NACM group generated for a tenant (rule-lists under /nacm may name it)."""
    return f"tenant-{tenant}"


@dataclass(frozen=True)
class TenantScope:
    """What one tenant owns, as name sets (membership tests are O(1) per node)."""

    tenant: str
    slices: frozenset[str]
    requests: frozenset[str]

    @property
    def group(self) -> str:
        return tenant_group(self.tenant)

    def owns_resource(self, resource: str) -> bool:
        """An alarm resource (an instance-identifier, RFC 8632 §3.2) of one of the
        tenant's requests or slices."""
        request = _REQUEST_IN_PATH.search(resource)
        if request is not None and resource.lstrip("/").split(":", 1)[-1].startswith(
                "entanglement-services/"):
            return request.group(2) in self.requests
        slice_ = _SLICE_IN_PATH.search(resource)
        if slice_ is not None and resource.lstrip("/").split(":", 1)[-1].startswith(
                "slicing/"):
            return slice_.group(2) in self.slices
        return False

    def owns_path(self, path: str) -> bool:
        """A data path inside one of the tenant's requests."""
        request = _REQUEST_IN_PATH.search(path)
        return request is not None and request.group(2) in self.requests

    # -- notifications (RFC 8341 §3.4.6, narrowed by content) ---------------------------

    def notification_visible(self, module: str, name: str,
                             content: Mapping[str, Any]) -> bool:
        """Whether a notification is about the tenant's own data only. `content` is the
        notification's children in RFC 7951 JSON shape (unqualified member names)."""
        if module in SUBSCRIPTION_MODULES:
            return True
        if (module, name) == SERVICE_STATE_CHANGE:
            return str(content.get("name")) in self.requests
        if (module, name) == LINK_STATE_CHANGE:
            return True          # the shared topology is in every tenant's view
        if (module, name) == ALARM_NOTIFICATION:
            return self.owns_resource(str(content.get("resource", "")))
        if (module, name) == CONFIG_CHANGE:
            edits = content.get("edit") or []
            if isinstance(edits, Mapping):
                edits = [edits]
            targets = [str(e.get("target", "")) for e in edits if isinstance(e, Mapping)]
            return bool(targets) and all(self.owns_path(t) for t in targets)
        return False


@dataclass(frozen=True)
class Tenancy:
    """Users, slices and requests mapped to their tenants, from one version of the data."""

    user_tenant: Mapping[str, str] = field(default_factory=dict)
    slice_tenant: Mapping[str, str] = field(default_factory=dict)
    scopes: Mapping[str, TenantScope] = field(default_factory=dict)

    @classmethod
    def from_json(cls, slicing: Mapping[str, Any],
                  services: Iterable[Mapping[str, Any]]) -> Tenancy:
        """`slicing`: RFC 7951 JSON of running's /slicing; `services`: the JSON of the
        datastores whose requests count (running and candidate: a tenant sees the
        requests it has only in the candidate too). Ownership of a request is its
        slice's tenant, the first datastore naming the request deciding."""
        root = slicing.get(f"{SLICES_MODULE}:slicing", {})
        user_tenant: dict[str, str] = {}
        for tenant in root.get("tenant", []):
            for user in tenant.get("user", []):
                user_tenant.setdefault(str(user), str(tenant["name"]))
        slice_tenant = {str(s["name"]): str(s["tenant"]) for s in root.get("slice", [])
                        if "tenant" in s}
        request_tenant: dict[str, str] = {}
        for doc in services:
            for request in doc.get(f"{SERVICES_MODULE}:entanglement-services", {}).get(
                    "request", []):
                name = str(request["name"])
                if name in request_tenant:
                    continue
                owner = slice_tenant.get(str(request.get(f"{SLICES_MODULE}:slice", "")))
                request_tenant[name] = owner or ""
        scopes = {}
        for tenant in set(user_tenant.values()):
            scopes[tenant] = TenantScope(
                tenant=tenant,
                slices=frozenset(s for s, t in slice_tenant.items() if t == tenant),
                requests=frozenset(r for r, t in request_tenant.items() if t == tenant))
        return cls(user_tenant=user_tenant, slice_tenant=slice_tenant, scopes=scopes)

    def scope(self, user: str) -> TenantScope | None:
        tenant = self.user_tenant.get(user)
        return None if tenant is None else self.scopes[tenant]


# -- reads ----------------------------------------------------------------------------------


def prune_to_scope(forest: Forest, scope: TenantScope) -> int:
    """Remove everything outside the tenant's scope, silently (RFC 8341 §3.4.5)."""
    removed = 0
    for top in list(forest.tops()):
        where = (module_of(top), schema_name(top))
        if where in SHARED_TOPS:
            continue
        if where == SERVICES_TOP:
            removed += _keep_entries(top, "request", scope.requests, drop_others=True)
        elif where == SLICING_TOP:
            removed += _keep_entries(top, "slice", scope.slices, drop_others=False)
            removed += _keep_entries(top, "tenant", frozenset({scope.tenant}),
                                     drop_others=False)
        elif where == ALARMS_TOP:
            removed += _prune_alarms(top, scope)
        else:
            forest.unlink(top)
            lib.lyd_free_tree(top)
            removed += 1
    return removed


def _key(entry: NodePtr, key: str = "name") -> str | None:
    for child in children(entry):
        if is_key(child) and schema_name(child) == key:
            return term_value(child)
    return None


def _keep_entries(parent: NodePtr, list_name: str, keep: frozenset[str], *,
                  drop_others: bool) -> int:
    """Drop the `list_name` entries whose key is not in `keep` (and, with `drop_others`,
    every other child of `parent`)."""
    removed = 0
    for child in children(parent):
        if schema_name(child) == list_name:
            if _key(child) in keep:
                continue
        elif not drop_others:
            continue
        lib.lyd_free_tree(child)
        removed += 1
    return removed


def _prune_alarms(alarms: NodePtr, scope: TenantScope) -> int:
    """Keep only alarm-list/alarm entries about the tenant's requests and slices: the
    summary, counters, shelves and controls describe everyone's alarms."""
    removed = 0
    for child in children(alarms):
        if schema_name(child) != "alarm-list":
            lib.lyd_free_tree(child)
            removed += 1
            continue
        for entry in children(child):
            if schema_name(entry) == "alarm" and scope.owns_resource(
                    _key(entry, "resource") or ""):
                continue
            lib.lyd_free_tree(entry)
            removed += 1
    return removed


# -- writes ---------------------------------------------------------------------------------


def not_own_slice(tenant: str, request: str, path: str) -> NetconfError:
    # RFC 8341 §3.4.5 / RFC 6241 Appendix A access-denied; the text says nothing about
    # whether the named slice exists.
    return NetconfError(RpcError(
        tag=ErrorTag.ACCESS_DENIED, type=ErrorType.APPLICATION, path=path,
        message=f"request {request!r} must name one of tenant {tenant!r}'s slices "
                "in 'slice'"))


def outside_scope(tenant: str, path: str | None = None) -> NetconfError:
    return NetconfError(RpcError(
        tag=ErrorTag.ACCESS_DENIED, type=ErrorType.APPLICATION, path=path,
        message=f"users of tenant {tenant!r} write only the requests of its slices"))


def missing(request: str, path: str) -> NetconfError:
    """Word for word what deleting a request that does not exist returns (RFC 6241
    §7.2 delete: data-missing)."""
    return NetconfError(RpcError(tag=ErrorTag.DATA_MISSING, message=f"{path} does not exist",
                                 path=path))


class EditScope:
    """Checks one edit (edit-config, edit-data, RESTCONF, gRPC) against a tenant scope."""

    def __init__(self, tenancy: Tenancy, scope: TenantScope, forest: Forest) -> None:
        self.tenancy = tenancy
        self.scope = scope
        self.forest = forest

    def check(self, nodes: Iterable[EditNode], default_operation: Operation) -> None:
        """Raise unless the edit touches only the tenant's requests; a `remove` of
        another tenant's request is dropped from the edit (as if the entry were absent)."""
        for node in nodes:
            if (node.module, node.name) != SERVICES_TOP:
                raise outside_scope(self.scope.tenant, node.path)
            op = node.operation or default_operation
            if op in (Operation.DELETE, Operation.REMOVE, Operation.REPLACE):
                # the whole container: every tenant's requests
                raise outside_scope(self.scope.tenant, node.path)
            for child in list(node.children):
                if child.name != "request":
                    raise outside_scope(self.scope.tenant, child.path)
                self._request(node, child, child.operation or op)

    def _owner(self, entry: NodePtr) -> str | None:
        for child in children(entry):
            if schema_name(child) == "slice":
                return self.tenancy.slice_tenant.get(term_value(child) or "")
        return None

    def _request(self, parent: EditNode, node: EditNode, op: Operation) -> None:
        name = dict(node.keys).get("name", "")
        existing = self.forest.find(node.path)
        tenant = self.scope.tenant
        if existing != NULL and self._owner(existing) != tenant:
            # another tenant's request (or one in no slice): behave as if it were absent
            if op is Operation.DELETE:
                raise missing(name, node.path)
            if op is Operation.REMOVE:
                parent.children.remove(node)   # RFC 6241 §7.2: silently ignored
                return
            named = self._named_slice(node)
            if named is not None and named in self.scope.slices:
                # the key collision that cannot be hidden (RFC 7950 §7.8.2)
                raise NetconfError(RpcError(tag=ErrorTag.DATA_EXISTS, path=node.path,
                                            message=f"{node.path} already exists"))
            raise not_own_slice(tenant, name, node.path)
        if existing == NULL:
            if op in (Operation.DELETE, Operation.REMOVE):
                return     # the store answers as for any absent node
            named = self._named_slice(node)
            if named is None or named not in self.scope.slices:
                raise not_own_slice(tenant, name, node.path)
            return
        # the tenant's own request: its slice may change only to another of its slices
        named = self._named_slice(node)
        slice_ops = self._slice_ops(node, op)
        if op is Operation.REPLACE and named is None:
            raise not_own_slice(tenant, name, node.path)
        if named is not None and named not in self.scope.slices:
            raise not_own_slice(tenant, name, node.path)
        if slice_ops & {Operation.DELETE, Operation.REMOVE}:
            raise not_own_slice(tenant, name, node.path)

    @staticmethod
    def _named_slice(node: EditNode) -> str | None:
        for child in node.children:
            if child.name == "slice" and child.operation not in (Operation.DELETE,
                                                                  Operation.REMOVE):
                return child.value
        return None

    @staticmethod
    def _slice_ops(node: EditNode, op: Operation) -> set[Operation]:
        return {child.operation or op for child in node.children if child.name == "slice"}


def notification_content(element: etree._Element) -> dict[str, Any]:
    """A NETCONF notification's children as RFC 7951-shaped members (local names; a
    repeated child becomes a list), enough for `TenantScope.notification_visible`."""
    out: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        key = etree.QName(child).localname
        value: Any = notification_content(child) if len(child) else (child.text or "")
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = [value] if key == "edit" else value
    return out


def request_owner(forest: Forest, tenancy: Tenancy, name: str) -> str | None:
    """The tenant owning request `name` in `forest` (None: absent or in no slice)."""
    for entry in forest.find_xpath(f"{SERVICES_XPATH}/request[name={_literal(name)}]"):
        for child in children(entry):
            if schema_name(child) == "slice":
                return tenancy.slice_tenant.get(term_value(child) or "")
        return None
    return None


def scope_hides(forest: Forest, tenancy: Tenancy, scope: TenantScope, path: str) -> bool:
    """Whether the node at `path` (a data path or XPath naming keys) is out of the
    tenant's scope in `forest`, so that "does it exist?" must be answered "no" (RFC 8341
    §3.4.5) wherever an interface checks existence before writing."""
    try:
        steps = list(parse_path(path))
    except PathSyntaxError:
        return False
    if not steps:
        return False
    top = (steps[0].module or "", steps[0].name)
    if top in SHARED_TOPS:
        return False
    if top == SERVICES_TOP:
        if len(steps) < 2 or steps[1].name != "request":
            return False
        name = dict(steps[1].predicates).get("name")
        return name is not None and request_owner(forest, tenancy, name) != scope.tenant
    if top == SLICING_TOP:
        if len(steps) < 2:
            return False
        key = dict(steps[1].predicates).get("name")
        owned = {"slice": scope.slices, "tenant": frozenset({scope.tenant})}.get(steps[1].name)
        return owned is not None and key is not None and key not in owned
    return top != ALARMS_TOP


def _literal(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def check_scoped_changes(tenancy: Tenancy, scope: TenantScope, old: Forest, new: Forest,
                         changes: Iterable[Mapping[str, Any]]) -> None:
    """A whole-datastore write (commit, copy-config, PUT of a datastore) by a tenant user
    may change only the tenant's requests, and each must end in one of its slices. The
    candidate is shared, so a commit carrying anybody else's edits is refused; the error
    names no path (the path could name another tenant's data)."""
    owners: dict[str, bool] = {}
    for change in changes:
        path = str(change["path"])
        try:
            steps: list[Step] = list(parse_path(path))
        except PathSyntaxError:
            raise outside_scope(scope.tenant) from None
        if len(steps) < 2 or (steps[0].module, steps[0].name) != SERVICES_TOP \
                or steps[1].name != "request":
            raise outside_scope(scope.tenant)
        name = dict(steps[1].predicates).get("name")
        if name is None:
            raise outside_scope(scope.tenant)
        if name not in owners:
            before, after = (request_owner(old, tenancy, name),
                             request_owner(new, tenancy, name))
            had = bool(old.find_xpath(f"{SERVICES_XPATH}/request[name={_literal(name)}]"))
            has = bool(new.find_xpath(f"{SERVICES_XPATH}/request[name={_literal(name)}]"))
            owners[name] = (not had or before == scope.tenant) and \
                (not has or after == scope.tenant)
        if not owners[name]:
            raise outside_scope(scope.tenant)
