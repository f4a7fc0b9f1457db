"""The decision engine: pure functions from (principal, permission, resource) to decisions.

No I/O happens here. `check` answers one question, `bulk_check` many, `query_filter`
compiles the same rules into a MongoDB filter, and `permissions` shows the whole graph.
All of them read the one `Policy`, so a check and a filter can never disagree (a property
test in tests/test_authz_property.py holds them to it).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bson import ObjectId

from authz.errors import Forbidden, NotFound
from authz.policy import DEFAULT_POLICY_PATH, InstanceRole, Policy, load_policy

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GrantFact:
    """Instance roles a user holds on one resource, and that resource's company."""

    resource_type: str
    company: ObjectId
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller's facts: tenant role per company, and stored grants per resource id.

    Loaded once per request (see `authz.facts.load_principal`); never put in a token, so a
    role change or a removal takes effect on the very next request.
    """

    user_id: ObjectId
    roles: Mapping[ObjectId, str] = field(default_factory=dict)
    grants: Mapping[ObjectId, GrantFact] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resource:
    """What a decision is about.

    `company` is the tenant; `id` the resource's own id when it has one; `relations` the
    fields the policy derives instance roles from (for a ticket: `created_by`).
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
_ROLE_LACKS = "role '{0}' in company {1} lacks {2}"
_INSTANCE_DERIVED = "instance role {0} (as {1} of {2} {3}) grants {4}"
_INSTANCE_GRANTED = "instance role {0} (shared) on {1} {2} grants {3}"
_UNKNOWN = "unknown permission {0}"


class Engine:
    """Decisions, filters and permission graphs for one validated policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._role_permissions = {name: r.permissions for name, r in policy.roles.items()}
        by_type: dict[str, list[InstanceRole]] = {}
        for irole in policy.instance_roles.values():
            by_type.setdefault(irole.resource_type, []).append(irole)
        self._instance_roles = {t: tuple(rs) for t, rs in by_type.items()}
        self._relations = {
            t: tuple(dict.fromkeys(rel for r in rs for rel in r.derived_from_relations))
            for t, rs in by_type.items()
        }

    # -- decisions -------------------------------------------------------------------------

    def check(self, principal: Principal, permission: str, resource: Resource) -> Decision:
        """Decide whether `principal` holds `permission` on `resource`."""
        company = resource.company
        role = principal.roles.get(company)
        if role is None:
            return Decision(False, permission, _NOT_MEMBER, principal.user_id, company)
        if permission in self._role_permissions[role]:
            return Decision(True, permission, _ROLE_GRANTS, role, company, permission)
        for irole in self._instance_roles.get(resource.type, ()):
            if permission not in irole.permissions:
                continue
            for relation in irole.derived_from_relations:
                if resource.relations.get(relation) == principal.user_id:
                    return Decision(
                        True,
                        permission,
                        _INSTANCE_DERIVED,
                        irole.name,
                        relation,
                        resource.type,
                        resource.id,
                        permission,
                    )
            if resource.id is not None:
                grant = principal.grants.get(resource.id)
                if (
                    grant is not None
                    and irole.grant_name in grant.roles
                    and grant.company == company
                    and grant.resource_type == resource.type
                ):
                    return Decision(
                        True,
                        permission,
                        _INSTANCE_GRANTED,
                        irole.name,
                        resource.type,
                        resource.id,
                        permission,
                    )
        if permission not in self.policy.permissions:
            return Decision(False, permission, _UNKNOWN, permission)
        return Decision(False, permission, _ROLE_LACKS, role, company, permission)

    def check_every(self, principal: Principal, permission: str, company: ObjectId) -> Decision:
        """Decide whether `principal` holds `permission` on every resource it applies to in
        `company`, whatever resources exist there now or later.

        Only a tenant role can grant that: an instance role, derived or stored, holds on
        single resources, so it never answers a question about all of them. This is the
        type-level question ("may this user read every ticket of this company?"), as
        opposed to `check`, which is about one resource.
        """
        role = principal.roles.get(company)
        if role is None:
            return Decision(False, permission, _NOT_MEMBER, principal.user_id, company)
        if permission in self._role_permissions[role]:
            return Decision(True, permission, _ROLE_GRANTS, role, company, permission)
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
        """
        decision = self.check(principal, permission, resource)
        if decision.allowed:
            return decision
        read = self.policy.resource_types[resource.type].read
        if read != permission and self.check(principal, read, resource).allowed:
            raise Forbidden(decision.reason, permission=permission)
        raise NotFound(f"{resource.type} not found")

    def resource_of(self, resource_type: str, doc: Mapping[str, Any]) -> Resource:
        """The `Resource` a stored document stands for, with the relations the policy uses."""
        tenant = self.policy.resource_types[resource_type].tenant_field
        relations = {rel: doc.get(rel) for rel in self._relations.get(resource_type, ())}
        return Resource(resource_type, doc[tenant], doc.get("_id"), relations or _EMPTY)

    # -- filters ---------------------------------------------------------------------------

    def query_filter(
        self, principal: Principal, permission: str, resource_type: str
    ) -> dict[str, Any]:
        """Compile `permission` on `resource_type` into a MongoDB filter for `principal`.

        The filter is an `$or` of branches, each led by the tenant field, so every query is
        tenant-targeted and index-friendly; with a single branch the `$or` is dropped. Its
        size grows with the caller's memberships and grants, never with the data. No
        permission at all compiles to a filter that matches nothing.
        """
        tenant = self.policy.resource_types[resource_type].tenant_field
        full = [c for c, r in principal.roles.items() if permission in self._role_permissions[r]]
        full_set = set(full)
        branches: list[dict[str, Any]] = []
        if full:
            branches.append({tenant: _eq_or_in(full)})
        rest = [c for c in principal.roles if c not in full_set]
        for irole in self._instance_roles.get(resource_type, ()):
            if permission not in irole.permissions:
                continue
            if rest:
                for relation in irole.derived_from_relations:
                    branches.append({tenant: _eq_or_in(rest), relation: principal.user_id})
            shared: dict[ObjectId, list[ObjectId]] = {}
            for rid, g in principal.grants.items():
                if (
                    irole.grant_name in g.roles
                    and g.resource_type == resource_type
                    and g.company in principal.roles
                    and g.company not in full_set
                ):
                    shared.setdefault(g.company, []).append(rid)
            for company, ids in shared.items():
                branches.append({tenant: company, "_id": _eq_or_in(ids)})
        if not branches:
            return {tenant: {"$in": []}}
        return branches[0] if len(branches) == 1 else {"$or": branches}

    # -- introspection ---------------------------------------------------------------------

    def permissions(
        self, principal: Principal, companies: Sequence[ObjectId] | None = None
    ) -> dict[str, Any]:
        """The caller's permission graph: per company, per granted resource, and derived.

        Shaped like the tutorial's `getUserPermissions`, plus the derived instance roles,
        which hold on every resource whose relation names the caller.
        """
        wanted = set(companies) if companies is not None else None
        graph: dict[str, Any] = {
            "user_id": str(principal.user_id),
            "companies": {},
            "resources": {},
            "derived": [],
        }
        for company, role in principal.roles.items():
            if wanted is None or company in wanted:
                graph["companies"][str(company)] = {
                    "roles": [role],
                    "permissions": sorted(self._role_permissions[role]),
                }
        for rid, grant in principal.grants.items():
            if grant.company not in principal.roles:
                continue
            if wanted is not None and grant.company not in wanted:
                continue
            perms: set[str] = set()
            names = []
            for irole in self._instance_roles.get(grant.resource_type, ()):
                if irole.grant_name in grant.roles:
                    perms |= irole.permissions
                    names.append(irole.name)
            graph["resources"][str(rid)] = {
                "resource_type": grant.resource_type,
                "company_id": str(grant.company),
                "roles": names,
                "permissions": sorted(perms),
            }
        for irole in self.policy.instance_roles.values():
            for relation in irole.derived_from_relations:
                graph["derived"].append(
                    {
                        "role": irole.name,
                        "relation": relation,
                        "permissions": sorted(irole.permissions),
                    }
                )
        return graph

    def writable_fields(self, principal: Principal, resource: Resource) -> frozenset[str]:
        """The ticket fields `principal` may change on `resource` (empty if none)."""
        role = principal.roles.get(resource.company)
        if role is None or not self.check(principal, "ticket:update", resource).allowed:
            return frozenset()
        return self.policy.roles[role].writable_ticket_fields

    def sees_internal_notes(self, principal: Principal, resource: Resource) -> bool:
        """Whether the read projection of `resource` keeps internal notes for `principal`."""
        return self.check(principal, self.policy.internal_notes_require, resource).allowed

    def is_assignable(self, role: str | None) -> bool:
        """Whether a member with tenant role `role` may be assigned tickets."""
        return role in self.policy.assignable_roles


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
