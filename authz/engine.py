"""The decision engine: pure functions from (principal, permission, resource) to decisions.

No I/O happens here. `check` answers one question, `bulk_check` many, `query_filter`
compiles the same rules into a MongoDB filter, and `permissions` shows the whole graph.
All of them read the one `Policy`, so a check and a filter can never disagree (a property
test in tests/api/test_authz_property.py holds them to it).

A relation may hold one user or many (`many` in the policy: a ticket's viewers). Both
compile to the same branch, `{tenant: C, path: user}`, which MongoDB matches against a
value or an array alike, so the filter's size never depends on how many resources name
the caller.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bson import ObjectId

from authz.errors import Forbidden, InvalidInput, NotFound
from authz.policy import DEFAULT_POLICY_PATH, InstanceRole, Policy, ResourceType, load_policy

_EMPTY: Mapping[str, Any] = MappingProxyType({})

GRAPH_RESOURCES = 1000
"""Resources a permission graph lists at most; a larger one is refused with how to narrow."""


@dataclass(frozen=True, slots=True)
class ResourceRoles:
    """Instance roles a user holds on one resource, and that resource's company."""

    resource_type: str
    company: ObjectId
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller's facts: tenant role (and its access level, where it is not the role's
    default) per company, and per resource id the instance roles an access level reaches
    through (the groups they are in).

    Bounded by the caller's memberships: instance roles on the resource a decision is
    about (a ticket shared with them) are read from that resource, never from here.
    Loaded with the user on every request (see `authz.facts`); never put in a token, so a
    role change or a removal takes effect on the very next request.
    """

    user_id: ObjectId
    roles: Mapping[ObjectId, str] = field(default_factory=dict)
    resource_roles: Mapping[ObjectId, ResourceRoles] = field(default_factory=dict)
    levels: Mapping[ObjectId, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resource:
    """What a decision is about.

    `company` is the tenant; `id` the resource's own id when it has one; `relations` the
    ids the resource is related to, by the policy's names: users by relation (for a
    ticket: `creator`, `assignee`; a many-valued one, `viewer`, as a sequence of ids,
    which may hold only the caller's own entry) and parent resources by type (`group`).
    """

    type: str
    company: ObjectId
    id: ObjectId | None = None
    relations: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


class Decision:
    """The answer to one question, with a reason a person can read.

    The reason is formatted only when read: `check` runs on every request and in bulk.
    """

    __slots__ = ("_args", "_template", "allowed", "permission")

    def __init__(self, allowed: bool, permission: str, template: str, *args: object) -> None:
        self.allowed = allowed
        self.permission = permission
        self._template = template
        self._args = args

    @property
    def reason(self) -> str:
        """Why the decision was taken, naming the role, company and permission."""
        return self._template.format(*self._args)

    def __bool__(self) -> bool:
        return self.allowed

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, reason={self.reason!r})"


_NOT_MEMBER = "user {0} is not a member of company {1}"
_ROLE_GRANTS = "role '{0}' in company {1} grants {2}"
_ROLE_REACHES = "role '{0}' in company {1} grants {2} on this {3}, reached as {4} ({5} access)"
_ROLE_STOPS = "role '{0}' in company {1} grants {2} only on a {3} reached as {4} ({5} access)"
_ROLE_LACKS = "role '{0}' in company {1} lacks {2}"
_INSTANCE_DERIVED = "instance role {0} (as {1} of {2} {3}) grants {4}"
_UNKNOWN = "unknown permission {0}"


class Engine:
    """Decisions, filters and permission graphs for one validated policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._types = policy.resource_types
        self._role_permissions = {name: r.permissions for name, r in policy.roles.items()}
        by_type: dict[str, list[InstanceRole]] = {}
        for irole in policy.instance_roles.values():
            by_type.setdefault(irole.resource_type, []).append(irole)
        self._instance_roles = {t: tuple(rs) for t, rs in by_type.items()}
        self._default_level = {name: r.access[0] for name, r in policy.roles.items()}
        self._reach = {
            (level.name, type_name): through
            for level in policy.access_levels.values()
            for type_name, through in level.reach.items()
        }
        reached_through = {
            path for level in policy.access_levels.values() for paths in level.reach.values()
            for path in paths if "#" in path
        }  # fmt: skip
        self.copied_roles: tuple[InstanceRole, ...] = tuple(
            irole for name, irole in policy.instance_roles.items() if name in reached_through
        )
        """The instance roles an access level reaches through (`group#member`): their
        holders' resources are part of the principal, copied into the user's facts."""

    def level(self, principal: Principal, company: ObjectId) -> str | None:
        """The access level of `principal`'s role in `company` (None: not a member)."""
        role = principal.roles.get(company)
        if role is None:
            return None
        return self.level_of(role, principal.levels.get(company))

    def level_of(self, role: str, stored: str | None) -> str:
        """The access level a membership has: the stored one, else the role's default."""
        return stored or self._default_level[role]

    def limited(
        self, principal: Principal, company: ObjectId, permission: str
    ) -> tuple[str, ...] | None:
        """The relations through which the role's `permission` still holds in `company`,
        as its access level limits it (None: no limit). Creating a resource is decided on
        the company, where a level does not reach."""
        resource_type = permission.partition(":")[0]
        rtype = self._types.get(resource_type)
        if rtype is None or permission == rtype.create:
            return None
        level = self.level(principal, company)
        return None if level is None else self._reach.get((level, resource_type))

    def reach_filter(
        self, principal: Principal, company: ObjectId, permission: str
    ) -> dict[str, Any] | None:
        """The filter of the resources a limited `permission` still reaches in `company`
        (None: not limited; a filter that matches nothing when no relation reaches any)."""
        through = self.limited(principal, company, permission)
        if through is None:
            return None
        rtype = self._types[permission.partition(":")[0]]
        branches = self._reach_branches(principal, company, rtype, through)
        if not branches:
            return {rtype.tenant: {"$in": []}}
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def at_most(self, role: str, level: str | None, than_role: str, than_level: str | None) -> bool:
        """Whether a member with `role` (at access `level`) can do no more, anywhere in the
        company, than one with `than_role` (at `than_level`): fewer or the same permissions,
        reaching no further."""
        permissions = self._role_permissions[role]
        if not permissions <= self._role_permissions[than_role]:
            return False
        mine, theirs = self.level_of(role, level), self.level_of(than_role, than_level)
        # The types a level could limit: those the role acts on beyond creating (creating is
        # decided on the company, where no level reaches).
        limitable = {p.partition(":")[0] for p in permissions if p != self._create_of(p)}
        for type_name in limitable:
            reach = self._reach.get((mine, type_name))
            limit = self._reach.get((theirs, type_name))
            if limit is not None and (reach is None or not set(reach) <= set(limit)):
                return False
        return True

    def _create_of(self, permission: str) -> str | None:
        rtype = self._types.get(permission.partition(":")[0])
        return rtype.create if rtype is not None else None

    def _reached_as(
        self, principal: Principal, resource: Resource, through: tuple[str, ...]
    ) -> str | None:
        """The first of `through` by which `principal` reaches `resource`, or None."""
        for path in through:
            parent, _, role = path.partition("#")
            if not role:
                if names(resource.relations.get(path), principal.user_id):
                    return path
                continue
            held = principal.resource_roles.get(resource.relations.get(parent))  # type: ignore[arg-type]
            if (
                held is not None
                and held.resource_type == parent
                and held.company == resource.company
                and role in held.roles
            ):
                return path
        return None

    def parent_scoped(self, principal: Principal, resource: Resource) -> bool | None:
        """For a principal whose access level limits their role on `resource`'s type through
        its parents (an agent scoped to groups), whether one of those parents reaches it;
        None when the level does not scope by parents (`all`, or assignments only)."""
        through = self.limited(principal, resource.company, f"{resource.type}:*")
        parents = tuple(path for path in through or () if "#" in path)
        if not parents:
            return None
        return self._reached_as(principal, resource, parents) is not None

    # -- decisions -------------------------------------------------------------------------

    def check(self, principal: Principal, permission: str, resource: Resource) -> Decision:
        """Decide whether `principal` holds `permission` on `resource`: through their tenant
        role (as far as its access level reaches), else through an instance role."""
        company = resource.company
        role = principal.roles.get(company)
        if role is None:
            return Decision(False, permission, _NOT_MEMBER, principal.user_id, company)
        by_role = self._by_role(principal, role, permission, resource)
        if by_role is not None and by_role.allowed:
            return by_role
        by_instance = self._by_instance_role(principal, permission, resource)
        if by_instance is not None:
            return by_instance
        if by_role is not None:
            return by_role  # the role grants it, but its access level does not reach here
        if permission not in self.policy.permissions:
            return Decision(False, permission, _UNKNOWN, permission)
        return Decision(False, permission, _ROLE_LACKS, role, company, permission)

    def _by_role(
        self, principal: Principal, role: str, permission: str, resource: Resource
    ) -> Decision | None:
        """The tenant role's decision, or None when the role does not grant `permission`."""
        if permission not in self._role_permissions[role]:
            return None
        company = resource.company
        through = self.limited(principal, company, permission)
        if through is None:
            return Decision(True, permission, _ROLE_GRANTS, role, company, permission)
        level = self.level(principal, company)
        reached = self._reached_as(principal, resource, through)
        if reached is not None:
            return Decision(
                True, permission, _ROLE_REACHES, role, company, permission, resource.type,
                reached, level,
            )  # fmt: skip
        return Decision(
            False, permission, _ROLE_STOPS, role, company, permission, resource.type,
            " or ".join(through), level,
        )  # fmt: skip

    def _by_instance_role(
        self, principal: Principal, permission: str, resource: Resource
    ) -> Decision | None:
        """An allowing decision by an instance role held on `resource`, or None."""
        for irole in self._instance_roles.get(resource.type, ()):
            if permission not in irole.permissions:
                continue
            for relation in irole.derived_from:
                if names(resource.relations.get(relation), principal.user_id):
                    return Decision(
                        True, permission, _INSTANCE_DERIVED, irole.name, relation,
                        resource.type, resource.id, permission,
                    )  # fmt: skip
        return None

    def check_every(self, principal: Principal, permission: str, company: ObjectId) -> Decision:
        """Decide whether `principal` holds `permission` on every resource it applies to in
        `company`, whatever resources exist there now or later.

        Only a tenant role whose access level does not limit the permission can grant that:
        an instance role, derived or stored, holds on single resources, and a limited role
        on those it reaches, so neither answers a question about all of them. This is the
        type-level question ("may this user read every ticket of this company?"), as
        opposed to `check`, which is about one resource.
        """
        role = principal.roles.get(company)
        if role is None:
            return Decision(False, permission, _NOT_MEMBER, principal.user_id, company)
        if permission in self._role_permissions[role]:
            through = self.limited(principal, company, permission)
            if through is None:
                return Decision(True, permission, _ROLE_GRANTS, role, company, permission)
            level = self.level(principal, company)
            kind = permission.partition(":")[0]
            reach = " or ".join(through)
            return Decision(
                False, permission, _ROLE_STOPS, role, company, permission, kind, reach, level
            )
        if permission not in self.policy.permissions:
            return Decision(False, permission, _UNKNOWN, permission)
        return Decision(False, permission, _ROLE_LACKS, role, company, permission)

    def bulk_check(
        self, principal: Principal, requests: Iterable[tuple[str, Resource]]
    ) -> list[Decision]:
        """Decide many (permission, resource) questions for one principal, in order."""
        check = self.check
        return [check(principal, permission, resource) for permission, resource in requests]

    def authorize(self, principal: Principal, permission: str, resource: Resource) -> Decision:
        """Like `check`, but raise: `NotFound` if the resource is not even readable,
        `Forbidden` (naming the permission) if it is readable but the permission is missing.
        Either error carries the `Decision`, so the caller can record it without deciding
        again.
        """
        decision = self.check(principal, permission, resource)
        if decision.allowed:
            return decision
        read = self._types[resource.type].read
        if read != permission and self.check(principal, read, resource).allowed:
            raise Forbidden(decision.reason, decision=decision, permission=permission)
        raise NotFound(f"{resource.type} not found", decision=decision)

    def resource_type(self, name: str) -> ResourceType:
        """The policy's declaration of a resource type."""
        return self._types[name]

    def resource_of(self, resource_type: str, doc: Mapping[str, Any]) -> Resource:
        """The `Resource` a stored document stands for, with the relations the policy uses.

        The document paths come from the policy (`tenant`, `relations`): the one mapping
        between the policy's names and the documents' fields.
        """
        rtype = self._types[resource_type]
        relations = {name: value_at(doc, path) for name, path in rtype.relations.items()}
        relations |= {name: value_at(doc, path) for name, path in rtype.parents.items()}
        return Resource(
            resource_type, value_at(doc, rtype.tenant), doc.get("_id"), relations or _EMPTY
        )

    # -- filters ---------------------------------------------------------------------------

    def query_filter(
        self, principal: Principal, permission: str, resource_type: str
    ) -> dict[str, Any]:
        """Compile `permission` on `resource_type` into a MongoDB filter for `principal`.

        The filter is an `$or` of branches, each led by the tenant field, so every query is
        tenant-targeted and index-friendly; with a single branch the `$or` is dropped. Its
        size grows with the caller's memberships (and the groups an access level reaches
        through), never with the data nor with what was shared with the caller. No
        permission at all compiles to a filter that matches nothing.
        """
        rtype = self._types[resource_type]
        tenant = rtype.tenant
        full: list[ObjectId] = []  # the role's permission reaches every resource there
        branches: list[dict[str, Any]] = []
        for company, role in principal.roles.items():
            if permission not in self._role_permissions[role]:
                continue
            through = self.limited(principal, company, permission)
            if through is None:
                full.append(company)
            else:
                branches += self._reach_branches(principal, company, rtype, through)
        if full:
            branches.insert(0, {tenant: _eq_or_in(full)})
        full_set = set(full)
        rest = [c for c in principal.roles if c not in full_set]
        for irole in self._instance_roles.get(resource_type, ()):
            if permission not in irole.permissions:
                continue
            if rest:
                for relation in irole.derived_from:
                    path = rtype.relations[relation]
                    branches.append({tenant: _eq_or_in(rest), path: principal.user_id})
        if not branches:
            return {tenant: {"$in": []}}
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def _reach_branches(
        self, principal: Principal, company: ObjectId, rtype: ResourceType, through: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """One filter branch per relation an access level limits a role to, in `company`."""
        branches: list[dict[str, Any]] = []
        for path in through:
            parent, _, role = path.partition("#")
            if not role:
                branches.append({rtype.tenant: company, rtype.relations[path]: principal.user_id})
                continue
            parents = [
                rid
                for rid, held in principal.resource_roles.items()
                if held.resource_type == parent and held.company == company and role in held.roles
            ]
            if parents:
                branches.append({rtype.tenant: company, rtype.parents[parent]: _eq_or_in(parents)})
        return branches

    # -- introspection ---------------------------------------------------------------------

    def permissions(
        self,
        principal: Principal,
        companies: Sequence[ObjectId] | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The caller's permission graph: per company, per resource held, and derived.

        Shaped like the tutorial's `getUserPermissions`, plus the derived instance roles,
        which hold on every resource whose relation names the caller: a ticket shared with
        them is one of those (`viewer`), described once as a relation rather than listed,
        so the graph does not grow with what was shared. `resources` lists the roles held
        on resources an access level reaches through (the caller's groups), at most
        `limit` (`GRAPH_RESOURCES`) of them: a larger graph is refused (`InvalidInput`),
        never cut short.
        """
        limit = GRAPH_RESOURCES if limit is None else limit
        wanted = set(companies) if companies is not None else None
        graph: dict[str, Any] = {
            "user_id": str(principal.user_id),
            "companies": {},
            "resources": {},
            "derived": [],
        }
        for company, role in principal.roles.items():
            if wanted is None or company in wanted:
                graph["companies"][str(company)] = self._company_entry(principal, company, role)
        for rid, held in principal.resource_roles.items():
            if held.company not in principal.roles:
                continue
            if wanted is not None and held.company not in wanted:
                continue
            if len(graph["resources"]) == limit:
                raise InvalidInput(
                    f"the user holds roles on more than {limit} resources: narrow the "
                    "question to fewer companies"
                )
            perms: set[str] = set()
            names = []
            for irole in self._instance_roles.get(held.resource_type, ()):
                if irole.role in held.roles:
                    perms |= irole.permissions
                    names.append(irole.name)
            graph["resources"][str(rid)] = {
                "resource_type": held.resource_type,
                "company_id": str(held.company),
                "roles": names,
                "permissions": sorted(perms),
            }
        for irole in self.policy.instance_roles.values():
            rtype = self._types[irole.resource_type]
            for relation in irole.derived_from:
                many = relation in rtype.many
                graph["derived"].append(
                    {
                        "role": irole.name,
                        "relation": relation,
                        "holds_on": f"every {rtype.name} whose {relation} "
                        + ("relation names you" if many else "is you"),
                        "permissions": sorted(irole.permissions),
                    }
                )
        return graph

    def _company_entry(self, principal: Principal, company: ObjectId, role: str) -> dict[str, Any]:
        """A company in the graph: the permissions that hold on every resource there, and
        those the access level limits to resources reached through a relation."""
        whole: list[str] = []
        limited: dict[str, list[str]] = {}
        for perm in sorted(self._role_permissions[role]):
            through = self.limited(principal, company, perm)
            if through is None:
                whole.append(perm)
            else:
                limited[perm] = list(through)
        return {
            "roles": [role],
            "access": self.level(principal, company),
            "permissions": whole,
            "limited": limited,
        }

    def writable_fields(self, principal: Principal, resource: Resource) -> frozenset[str]:
        """The fields `principal` may change on `resource` with its type's `update`
        permission (empty if none)."""
        update = self._types[resource.type].update
        role = principal.roles.get(resource.company)
        if role is None or update is None or not self.check(principal, update, resource):
            return frozenset()
        return self.settable_fields(principal, resource)

    def settable_fields(self, principal: Principal, resource: Resource) -> frozenset[str]:
        """The fields of its type `principal` may set when creating a resource in
        `resource.company`: those their role may change on one (a creator gives the rest)."""
        role = principal.roles.get(resource.company)
        if role is None:
            return frozenset()
        return self.policy.roles[role].writable_fields.get(resource.type, frozenset())

    def sees_internal_notes(self, principal: Principal, resource: Resource) -> bool:
        """Whether the read projection of `resource` keeps internal notes for `principal`."""
        return self.check(
            principal, self.policy.invariants.internal_notes_require, resource
        ).allowed

    def is_assignable(self, role: str | None) -> bool:
        """Whether a member with tenant role `role` may be assigned tickets."""
        return role in self.policy.invariants.assignable_roles

    @property
    def owner_role(self) -> str:
        """The role a company's creator receives and the company must always keep."""
        return self.policy.invariants.owner_role

    @property
    def roles(self) -> frozenset[str]:
        """The tenant roles the policy declares."""
        return frozenset(self.policy.roles)


def names(related: Any, user_id: ObjectId) -> bool:
    """Whether a relation's value names `user_id`: it is that id, or (a many-valued
    relation) a sequence holding it, as MongoDB's `{path: user}` matches either."""
    if isinstance(related, list | tuple):
        return user_id in related
    return bool(related == user_id)


def value_at(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted document path, or None."""
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _eq_or_in(values: Sequence[ObjectId]) -> Any:
    """Equality for one value (pushed down by more servers), `$in` for several."""
    return values[0] if len(values) == 1 else {"$in": list(values)}


_default_engine: Engine | None = None


def default_engine() -> Engine:
    """The engine for the policy shipped in `authz/policy.toml`, validated once."""
    global _default_engine
    if _default_engine is None:
        _default_engine = Engine(load_policy(DEFAULT_POLICY_PATH))
    return _default_engine


def engine_for(path: Path) -> Engine:
    """The engine for a policy file (the shipped one is shared, others are built anew)."""
    return default_engine() if path == DEFAULT_POLICY_PATH else Engine(load_policy(path))
