"""NETCONF access control (RFC 8341) over the rules stored in running at /nacm.

The rules are YANG data like any other configuration, so they are read from the store
and re-parsed only after a change touches /nacm (the server's change listener calls
`invalidate`). Per user, the applicable rules are flattened once (rule-lists in order,
rules in order, §3.4.5) and every check is "first matching rule wins, else the default".

Sessions of a recovery user bypass NACM altogether (§3.4: the recovery session), which
is how the admin account can never lock itself out, whatever the stored rules say.

Users listed under a tenant of /sdqn-slices:slicing are confined to the tenant first
(`tenant_scope`): what lies outside the tenant is pruned or refused before any stored
rule is consulted, and the generated group `tenant-<name>` is added to their groups so
stored rule-lists can name it.

Data checks come in three shapes, matching how requests reach the store:
* reads: the reply tree is pruned in place, silently (§3.4.5: denied nodes are omitted);
* edit-config/edit-data: the parsed edit is walked against the target datastore to find
  which nodes are created, updated or deleted, before anything is applied;
* whole-datastore writes (copy-config, delete-config, commit): the datastore diff names
  every changed node.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libyang
import structlog

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.editparse import SchemaIndex
from controller.datastore.ly import NodePtr, address, lib
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.readers import datastore_diff
from controller.datastore.schema import Schema
from controller.datastore.tree import NULL, Forest, WithDefaults, node_path
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.nodes import children, is_key, module_of
from controller.netconf.paths import PathSyntaxError, Step, parse_path
from controller.netconf.tenant_scope import (
    SERVICES_XPATH,
    SLICING_XPATH,
    TENANT_DENIED_RPCS,
    EditScope,
    Tenancy,
    TenantScope,
    check_scoped_changes,
    prune_to_scope,
    scope_hides,
)

log = structlog.get_logger(__name__)

NACM_MODULE = "ietf-netconf-acm"
NACM_XPATH = "/ietf-netconf-acm:nacm"

READ, CREATE, UPDATE, DELETE, EXEC = "read", "create", "update", "delete", "exec"
ALL_OPS = frozenset({READ, CREATE, UPDATE, DELETE, EXEC})

# RFC 6241 Appendix C tags these two rpcs nacm:default-deny-all (the copy of ietf-netconf
# loaded here predates that import), so only an explicit permit rule opens them (RFC 8341
# §3.4.4); close-session is always permitted (§3.4.4).
DEFAULT_DENY_RPCS = frozenset({("ietf-netconf", "kill-session"),
                               ("ietf-netconf", "delete-config"),
                               # RFC 8639 §2.4.5 (its YANG marks it default-deny-all)
                               ("ietf-subscribed-notifications", "kill-subscription")})
ALWAYS_PERMITTED_RPCS = frozenset({("ietf-netconf", "close-session")})


@dataclass(frozen=True)
class Rule:
    name: str
    module: str                     # "*" matches every module
    kind: str                       # any | rpc | notification | path
    target: str                     # rpc/notification name ("*" allowed) or path text
    steps: tuple[Step, ...] = ()
    ops: frozenset[str] = ALL_OPS
    permit: bool = False

    def matches_module(self, module: str) -> bool:
        return self.module in ("*", module)


@dataclass
class Policy:
    """The parsed /nacm container (defaults per RFC 8341 §3.5.1 when absent)."""

    enabled: bool = True
    read_default: bool = True
    write_default: bool = False
    exec_default: bool = True
    user_groups: dict[str, set[str]] = field(default_factory=dict)
    rule_lists: list[tuple[frozenset[str], tuple[Rule, ...]]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        nacm = data.get(f"{NACM_MODULE}:nacm", {})
        policy = cls(
            enabled=nacm.get("enable-nacm", True) is not False,
            read_default=nacm.get("read-default", "permit") == "permit",
            write_default=nacm.get("write-default", "deny") == "permit",
            exec_default=nacm.get("exec-default", "permit") == "permit",
        )
        for group in nacm.get("groups", {}).get("group", []):
            for user in group.get("user-name", []):
                policy.user_groups.setdefault(user, set()).add(group["name"])
        for rule_list in nacm.get("rule-list", []):
            rules = tuple(r for r in (_parse_rule(raw) for raw in rule_list.get("rule", []))
                          if r is not None)
            policy.rule_lists.append((frozenset(rule_list.get("group", [])), rules))
        return policy

    def rules_for(self, user: str, extra_groups: Iterable[str] = ()) -> tuple[Rule, ...]:
        groups = self.user_groups.get(user, set()) | set(extra_groups)
        rules: list[Rule] = []
        for list_groups, list_rules in self.rule_lists:
            if "*" in list_groups or list_groups & groups:
                rules.extend(list_rules)
        return tuple(rules)


def _parse_rule(raw: Mapping[str, Any]) -> Rule | None:
    ops_text = str(raw.get("access-operations", "*"))
    ops = ALL_OPS if ops_text.strip() == "*" else frozenset(ops_text.split())
    common = {"name": raw["name"], "module": raw.get("module-name", "*"), "ops": ops,
              "permit": raw.get("action") == "permit"}
    if "rpc-name" in raw:
        return Rule(kind="rpc", target=raw["rpc-name"], **common)
    if "notification-name" in raw:
        return Rule(kind="notification", target=raw["notification-name"], **common)
    if "path" in raw:
        try:
            steps = tuple(parse_path(raw["path"]))
        except PathSyntaxError:
            log.warning("NACM rule path is not a node instance identifier; rule ignored",
                        rule=raw["name"], path=raw["path"])
            return None
        return Rule(kind="path", target=raw["path"], steps=steps, **common)
    return Rule(kind="any", target="*", **common)


def path_matches(rule_steps: Sequence[Step], node_steps: Sequence[Step]) -> bool:
    """The rule's path names the node or one of its ancestors (keys may be omitted)."""
    if len(rule_steps) > len(node_steps):
        return False
    for want, have in zip(rule_steps, node_steps, strict=False):
        if want.name != have.name and want.name != "*":
            return False
        if want.module is not None and have.module is not None and want.module != have.module:
            return False
        have_preds = dict(have.predicates)
        for key, value in want.predicates:
            if have_preds.get(key) != value:
                return False
    return True


class DefaultDeny:
    """Schema nodes marked nacm:default-deny-all / -write, inherited by descendants."""

    def __init__(self, ctx: libyang.Context) -> None:
        self.deny_all: set[int] = set()
        self.deny_write: set[int] = set()
        self.tops_with_deny_all: set[int] = set()
        for module in ctx:
            if not module.implemented():
                continue
            for top in module.children():
                if isinstance(top, libyang.SContainer | libyang.SList | libyang.SLeaf
                              | libyang.SLeafList):
                    self._visit(top, top, False, False)

    def _visit(self, node: libyang.SNode, top: libyang.SNode, all_: bool, write: bool) -> None:
        for ext in node.extensions():
            if ext.module().name() == NACM_MODULE:
                all_ |= ext.name() == "default-deny-all"
                write |= ext.name() == "default-deny-write"
        here = address(node.cdata)
        if all_:
            self.deny_all.add(here)
            self.tops_with_deny_all.add(address(top.cdata))
        if write:
            self.deny_write.add(here)
        if isinstance(node, libyang.SContainer | libyang.SList):
            for child in node.children():
                self._visit(child, top, all_, write)


def tenant_rules(scope: TenantScope) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The generated rules of a tenant's group: (before the stored rules, after them).

    Before: the operations a tenant may never run (the commit history carries every
    tenant's changes; a rollback or a re-optimisation changes every tenant's service).
    After: the tenant may write requests (the scope has already narrowed them to its own),
    which write-default deny would otherwise forbid; a stored rule-list naming the group
    can still narrow that."""
    denied = tuple(Rule(name=f"{scope.group}-no-{name}", module=module, kind="rpc",
                        target=name, ops=frozenset({EXEC}))
                   for module, name in sorted(TENANT_DENIED_RPCS))
    steps = tuple(parse_path(SERVICES_XPATH))
    permitted = (Rule(name=f"{scope.group}-requests", module="*", kind="path",
                      target=SERVICES_XPATH, steps=steps, permit=True),)
    return denied, permitted


class UserAccess:
    """Every decision for one user under one policy (immutable, cached by `Nacm`)."""

    def __init__(self, policy: Policy, user: str, *, unrestricted: bool,
                 defaults: DefaultDeny, index: SchemaIndex,
                 tenancy: Tenancy | None = None) -> None:
        self.user = user
        self.unrestricted = unrestricted or not policy.enabled
        self.policy = policy
        self.defaults = defaults
        self.index = index
        self.tenancy = tenancy or Tenancy()
        # recovery sessions bypass everything (RFC 8341 §3.4), tenant scope included
        self.scope = None if self.unrestricted else self.tenancy.scope(user)
        if self.scope is not None:
            before, after = tenant_rules(self.scope)
            rules = before + policy.rules_for(user, [self.scope.group]) + after
        else:
            rules = policy.rules_for(user)
        self.rpc_rules = tuple(r for r in rules if r.kind in ("any", "rpc") and EXEC in r.ops)
        self.notif_rules = tuple(r for r in rules
                                 if r.kind in ("any", "notification") and READ in r.ops)
        self.data_rules = tuple(r for r in rules if r.kind in ("any", "path"))
        self.read_rules = tuple(r for r in self.data_rules if READ in r.ops)
        write_ops = {CREATE, UPDATE, DELETE}
        # Writes need no per-node walk when a rule permits every write to every node
        # before any rule could deny one.
        self.writes_unrestricted = self.unrestricted
        for rule in self.data_rules:
            if not rule.ops & write_ops:
                continue
            if rule.permit and rule.kind == "any" and rule.module == "*" \
                    and write_ops <= rule.ops:
                self.writes_unrestricted = self.scope is None
            break

    # -- operations and notifications ----------------------------------------------------

    def rpc_allowed(self, module: str, name: str) -> bool:
        """RFC 8341 §3.4.4."""
        if self.unrestricted or (module, name) in ALWAYS_PERMITTED_RPCS:
            return True
        for rule in self.rpc_rules:
            if rule.matches_module(module) and (rule.kind == "any"
                                                or rule.target in ("*", name)):
                return rule.permit
        if (module, name) in DEFAULT_DENY_RPCS:
            return False
        return self.policy.exec_default

    def notification_allowed(self, module: str, name: str) -> bool:
        """RFC 8341 §3.4.6."""
        if self.unrestricted:
            return True
        for rule in self.notif_rules:
            if rule.matches_module(module) and (rule.kind == "any"
                                                or rule.target in ("*", name)):
                return rule.permit
        return self.policy.read_default

    def notification_visible(self, module: str, name: str,
                             content: Mapping[str, Any]) -> bool:
        """Whether the notification's content may reach this user: a tenant user gets
        only notifications about its tenant's requests and slices (RFC 8341 §3.4.6 read
        access, applied to what the notification is about, as §3.4.5 applies it to data
        nodes). `content`: the notification's children as RFC 7951 JSON members."""
        if self.scope is None:
            return True
        return self.scope.notification_visible(module, name, content)

    def hides(self, forest: Forest, path: str) -> bool:
        """Whether this user must be told that the node at `path` does not exist: it is
        another tenant's (RFC 8341 §3.4.5: denied data is as if absent). Interfaces that
        check existence before an edit (RESTCONF PATCH/PUT/POST targets, gRPC modify)
        ask this so that the answer matches a node that really does not exist."""
        return self.scope is not None and scope_hides(forest, self.tenancy, self.scope, path)

    # -- data nodes ----------------------------------------------------------------------

    def data_allowed(self, op: str, module: str, snode_address: int,
                     steps: Callable[[], Sequence[Step]]) -> bool:
        """RFC 8341 §3.4.5: first rule matching (module, path, op), else the defaults."""
        if self.unrestricted:
            return True
        node_steps: Sequence[Step] | None = None
        for rule in self.data_rules:
            if op not in rule.ops or not rule.matches_module(module):
                continue
            if rule.kind == "path":
                if node_steps is None:
                    node_steps = steps()
                if not path_matches(rule.steps, node_steps):
                    continue
            return rule.permit
        if snode_address in self.defaults.deny_all:
            return False
        if op != READ and snode_address in self.defaults.deny_write:
            return False
        return self.policy.read_default if op == READ else self.policy.write_default

    def action_allowed(self, schema_nodes: Sequence[libyang.SNode],
                       steps: Sequence[Step]) -> bool:
        """RFC 8341 §3.4 (YANG 1.1 actions): read access to every data node ancestor of
        the action and exec access to the action node itself. `schema_nodes` and `steps`
        run from the top-level node down to the action, one per data node."""
        if self.unrestricted:
            return True
        last = len(schema_nodes) - 1
        for depth, snode in enumerate(schema_nodes):
            op = EXEC if depth == last else READ
            if not self.data_allowed(op, snode.module().name(), address(snode.cdata),
                                     _given(steps[:depth + 1])):
                return False
        return True

    def action_path_allowed(self, schema_path: str) -> bool:
        """`action_allowed` for any instance of the action at `schema_path`
        ("/module:top/.../action", no keys): what a client may offer before it knows
        the instance (a rule naming particular keys is decided at request time)."""
        steps = parse_path(schema_path)
        chain: list[libyang.SNode] = []
        for depth in range(1, len(steps) + 1):
            snode = self._snode(steps[:depth])
            if snode is None:
                return False
            chain.append(snode)
        return self.action_allowed(chain, steps)

    def _node_allowed(self, op: str, node: NodePtr) -> bool:
        return self.data_allowed(op, module_of(node), address(node.schema),
                                 lambda: parse_path(node_path(node)))

    def readable(self, schema: Schema, content: str, *, config_only: bool = True
                 ) -> dict[str, Any]:
        """What of `content` (RFC 7951 JSON text) this user may read: a copy pruned with
        the read rules (RFC 8341 §3.4.5), as RFC 7951 members. For answers built outside
        a datastore read (a past commit's content, the entries an rpc would name)."""
        forest = Forest.parse(schema, content, "json", config_only=config_only,
                              validate=False)
        try:
            self.prune_read(forest)
            return forest.to_dict()
        finally:
            forest.free()

    def prune_read(self, forest: Forest) -> int:
        """Remove every node the user may not read (and its subtree); returns how many."""
        if self.unrestricted:
            return 0
        removed = prune_to_scope(forest, self.scope) if self.scope is not None else 0
        for top in list(forest.tops()):
            if not self.read_rules and self.policy.read_default \
                    and address(top.schema) not in self.defaults.tops_with_deny_all:
                continue
            if not self._node_allowed(READ, top):
                forest.unlink(top)
                lib.lyd_free_tree(top)
                removed += 1
            else:
                removed += self._prune_children(top)
        return removed

    def _prune_children(self, node: NodePtr) -> int:
        removed = 0
        for child in children(node):
            if is_key(child):
                continue
            if not self._node_allowed(READ, child):
                lib.lyd_free_tree(child)
                removed += 1
            else:
                removed += self._prune_children(child)
        return removed

    def check_edit(self, forest: Forest, nodes: Iterable[EditNode],
                   default_operation: Operation) -> None:
        """Deny an edit-config/edit-data touching a node the user may not write."""
        if self.scope is not None:
            nodes = list(nodes)
            EditScope(self.tenancy, self.scope, forest).check(nodes, default_operation)
        if self.writes_unrestricted:
            return
        for node in nodes:
            self._check_edit_node(forest, node, default_operation, parent_exists=True)

    def _check_edit_node(self, forest: Forest, node: EditNode, inherited: Operation,
                         parent_exists: bool) -> None:
        op = node.operation or inherited
        existing = forest.find(node.path) if parent_exists else NULL
        exists = existing != NULL
        if op in (Operation.DELETE, Operation.REMOVE):
            if exists:
                self._check_subtree(DELETE, existing)
            return
        if op is Operation.NONE:
            for child in node.children:
                self._check_edit_node(forest, child, op, exists)
            return
        if not exists:
            self._require(CREATE, node)
            for child in node.children:
                self._check_edit_node(forest, child, op, False)
            return
        if node.kind in ("leaf", "leaf-list") or not node.children:
            # RFC 8341 §3.4.5: a write is authorised on each node it asks to write, not on
            # the resulting change, so rewriting a leaf with its current value (or naming
            # an existing node with nothing below it) still needs "update": a no-op write
            # by a read-only user is access-denied like any other.
            self._require(UPDATE, node)
            if node.kind in ("leaf", "leaf-list"):
                return
        if op is Operation.REPLACE:
            self._require(UPDATE, node)
            mentioned = {child.path for child in node.children}
            for data_child in children(existing):
                if not is_key(data_child) and node_path(data_child) not in mentioned:
                    self._check_subtree(DELETE, data_child)
        for child in node.children:
            self._check_edit_node(forest, child, op, True)

    def _require(self, op: str, node: EditNode) -> None:
        if not self.data_allowed(op, node.module, address(node.snode.cdata),
                                 lambda: parse_path(node.path)):
            raise access_denied(f"{op} access to {node.path} denied", node.path)

    def _check_subtree(self, op: str, node: NodePtr) -> None:
        if not self._node_allowed(op, node):
            path = node_path(node)
            raise access_denied(f"{op} access to {path} denied", path)
        for child in children(node):
            if not is_key(child):
                self._check_subtree(op, child)

    @property
    def may_write_somewhere(self) -> bool:
        """Whether any rule (before one denying every write everywhere) or the
        write-default lets this user write some node."""
        if self.writes_unrestricted:
            return True
        write_ops = {CREATE, UPDATE, DELETE}
        for rule in self.data_rules:
            if rule.permit and rule.ops & write_ops:
                return True
            if not rule.permit and rule.kind == "any" and rule.module == "*" \
                    and write_ops <= rule.ops:
                return False
        return self.policy.write_default

    def check_replace(self, old: Forest, new: Forest) -> None:
        """Deny replacing `old` by `new` (copy-config, commit, PUT of a datastore) when
        the diff touches a node the user may not write. RFC 8341 §3.4.5 authorises the
        request, not its effect, so a replace that would change nothing is still refused
        to a user who may write nothing at all."""
        if self.writes_unrestricted:
            return
        changes = datastore_diff(old, new)
        if changes and self.scope is not None:
            check_scoped_changes(self.tenancy, self.scope, old, new, changes)
        if changes:
            self.check_changes(changes)
            return
        if not self.may_write_somewhere:
            raise access_denied("write access denied: the user may not write any data")

    def check_changes(self, changes: Iterable[Mapping[str, Any]]) -> None:
        """Deny a whole-datastore write whose diff touches a node the user may not write."""
        if self.writes_unrestricted:
            return
        kinds = {"create": CREATE, "delete": DELETE, "replace": UPDATE}
        for change in changes:
            path = str(change["path"])
            steps = parse_path(path)
            snode = self._snode(steps)
            module = (steps[-1].module or "") if steps else ""
            op = kinds.get(str(change["operation"]), UPDATE)
            where = address(snode.cdata) if snode is not None else 0
            if not self.data_allowed(op, module, where, lambda: steps):  # noqa: B023
                raise access_denied(f"{op} access to {path} denied", path)

    def _snode(self, steps: Sequence[Step]) -> libyang.SNode | None:
        snode: libyang.SNode | None = None
        for step in steps:
            module = step.module or ""
            snode = (self.index.top(module, step.name) if snode is None
                     else self.index.child(snode, module, step.name))
            if snode is None:
                return None
        return snode


def _given(steps: Sequence[Step]) -> Callable[[], Sequence[Step]]:
    return lambda: steps


def access_denied(message: str, path: str | None = None,
                  type: ErrorType = ErrorType.APPLICATION) -> NetconfError:
    # RFC 8341 §3.4.5: the error must not reveal restricted content; the path the client
    # itself sent (or a node it may read the parent of) is all that is returned.
    return NetconfError(RpcError(tag=ErrorTag.ACCESS_DENIED, type=type, message=message,
                                 path=path))


class Nacm:
    """NACM of one server: cached policy, per-user access objects, RFC 8341 counters."""

    def __init__(self, store: NmdaStore, *, recovery_users: Iterable[str] = ()) -> None:
        if store.schema.ctx.get_module(NACM_MODULE) is None \
                or not store.schema.ctx.get_module(NACM_MODULE).implemented():
            raise ValueError(f"NACM needs module {NACM_MODULE} in the store's schema")
        self.store = store
        self.recovery_users = frozenset(recovery_users)
        self.defaults = DefaultDeny(store.schema.ctx)
        self._mutex = threading.Lock()
        self._policy: Policy | None = None
        self._tenancy = Tenancy()
        self._slicing = store.schema.ctx.get_module("sdqn-slices") is not None
        self._users: dict[str, UserAccess] = {}
        self.denied_operations = 0
        self.denied_data_writes = 0
        self.denied_notifications = 0

    @staticmethod
    def affected_by(ds: Datastore, ops: Iterable[tuple[str, str | None, Any]]) -> bool:
        """Whether a change of `ds` can change a policy: /nacm itself, or (for the tenant
        scope) the slice model and the requests, whose owners a tenant's view follows."""
        if ds not in (Datastore.RUNNING, Datastore.CANDIDATE):
            return False
        watched = (NACM_XPATH, SLICING_XPATH, SERVICES_XPATH) if ds is Datastore.RUNNING \
            else (SERVICES_XPATH,)
        return any(kind == "reset" or (path or "").startswith(watched)
                   for kind, path, _ in ops)

    def invalidate(self) -> None:
        with self._mutex:
            self._policy = None
            self._users.clear()

    def access(self, user: str) -> UserAccess:
        with self._mutex:
            cached = self._users.get(user)
            if cached is not None:
                return cached
            if self._policy is None:
                text = self.store.get(Datastore.RUNNING, xpath=NACM_XPATH, fmt="json",
                                      with_defaults=WithDefaults.REPORT_ALL)
                self._policy = Policy.from_json(json.loads(text) if text.strip() else {})
                self._tenancy = self._read_tenancy()
            access = UserAccess(self._policy, user, unrestricted=user in self.recovery_users,
                                defaults=self.defaults, index=self.store.index,
                                tenancy=self._tenancy)
            self._users[user] = access
            return access

    def _read_tenancy(self) -> Tenancy:
        """Owners of users, slices and requests, computed once per policy version (every
        read then tests set membership, never the rules against each request)."""
        if not self._slicing:
            return Tenancy()

        def doc(ds: Datastore, xpath: str) -> dict[str, Any]:
            text = self.store.get(ds, xpath=xpath, fmt="json")
            loaded: dict[str, Any] = json.loads(text) if text.strip() else {}
            return loaded

        slicing = doc(Datastore.RUNNING, SLICING_XPATH)
        if not slicing:
            return Tenancy()
        return Tenancy.from_json(slicing, [doc(Datastore.RUNNING, SERVICES_XPATH),
                                           doc(Datastore.CANDIDATE, SERVICES_XPATH)])

    def state(self) -> dict[str, Any]:
        """The config-false counters of /nacm (RFC 8341 §3.5.1)."""
        return {"denied-operations": self.denied_operations,
                "denied-data-writes": self.denied_data_writes,
                "denied-notifications": self.denied_notifications}


def seed_nacm(store: NmdaStore, rules_file: Path) -> bool:
    """Load the default rules into running when it has no /nacm yet (first start)."""
    existing = store.get(Datastore.RUNNING, xpath=NACM_XPATH, fmt="json")
    if existing.strip() not in ("", "{}"):
        return False
    store.edit_json(Datastore.RUNNING, json.loads(rules_file.read_text()))
    log.info("NACM rules seeded", source=str(rules_file))
    return True
