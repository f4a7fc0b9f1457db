"""The decision engine: one plan per question, evaluated two ways.

For (principal, permission, company) the engine takes the policy's plan (`authz.plan`:
always allowed, always denied, or conditional with an expression over the resource's
attributes and relations). `check` evaluates it on one resource (`authz.evaluate`),
`query_filter` compiles it into a MongoDB filter (`authz.mongo`), `check_every` asks
whether it is always allowed, and `permissions` renders it (`authz.graph`). No I/O happens
here, and no rule is written twice: a property test (tests/authz/test_authz_property.py)
holds filter, check and graph to the same answers.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bson import ObjectId

from authz import evaluate, mongo
from authz.errors import Forbidden, InvalidInput, NotFound
from authz.graph import permission_graph
from authz.model import Decision, Principal, Resource, ResourceRoles, names, value_at
from authz.plan import Plan, Planner
from authz.policy import DEFAULT_POLICY_PATH, InstanceRole, Policy, ResourceType, load_policy

__all__ = [
    "Decision",
    "Engine",
    "Principal",
    "Resource",
    "ResourceRoles",
    "default_engine",
    "engine_for",
    "names",
    "value_at",
]

_EVERY_STOPS = "role '{0}' in company {1} grants {2}, but not on every {3}: {4} (condition {5})"
_ASSIGNEE_OUTSIDE = (
    "the assignee is not a member of the {0} this {1} is in, and their {1} access is "
    "limited ({2}): assign it to a member of that {0}, or put them in it first"
)
_ASSIGNEE_INSIDE = "the assignee may handle this {0}"


class Engine:
    """Decisions, filters and permission graphs for one validated policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.planner = Planner(policy)
        self._plans = self.planner.plans
        self._types = policy.resource_types
        self._role_permissions = {name: r.permissions for name, r in policy.roles.items()}
        reached_through = {
            path for level in policy.access_levels.values() for paths in level.reach.values()
            for path in paths if "#" in path
        }  # fmt: skip
        self.copied_roles: tuple[InstanceRole, ...] = tuple(
            irole for name, irole in policy.instance_roles.items() if name in reached_through
        )
        """The instance roles an access level reaches through (`group#member`): their
        holders' resources are part of the principal, copied into the user's facts."""
        self._attribute_paths = {
            name: {path.path: attr for attr, path in rtype.attributes.items()}
            for name, rtype in self._types.items()
        }

    # -- the plan ----------------------------------------------------------------------------

    def plan(self, principal: Principal, permission: str, company: ObjectId) -> Plan:
        """The plan of `permission` for `principal` in `company` (by role and level)."""
        return self.planner.plan(
            principal.roles.get(company), principal.levels.get(company), permission
        )

    def level(self, principal: Principal, company: ObjectId) -> str | None:
        """The access level of `principal`'s role in `company` (None: not a member)."""
        role = principal.roles.get(company)
        if role is None:
            return None
        return self.level_of(role, principal.levels.get(company))

    def level_of(self, role: str, stored: str | None) -> str | None:
        """The access level a membership has: the stored one, else the role's default
        (None for a role the policy does not declare)."""
        return stored or self.planner.default_level.get(role)

    def level_for(self, role: str, asked: str | None, current: str | None) -> str | None:
        """The access level to store for a member with `role` (None: the role's default):
        the one asked for (`InvalidInput` if the role does not allow it), else the current
        one while the role allows it."""
        if role not in self.policy.roles:
            raise InvalidInput(
                f"role '{role}' is not declared by the policy: give the member a role first",
                loc=("body", "role"),
            )
        allowed = self.policy.roles[role].access
        if asked is not None and asked not in allowed:
            raise InvalidInput(
                f"ticket_access {asked!r} is not available to role '{role}' "
                f"(it may have: {', '.join(allowed)})",
                loc=("body", "ticket_access"),
            )
        chosen = asked if asked is not None else current if current in allowed else None
        return None if chosen == allowed[0] else chosen

    def limited(
        self, principal: Principal, company: ObjectId, permission: str
    ) -> tuple[str, ...] | None:
        """The relations through which the role's `permission` still holds in `company`,
        as its access level limits it (None: no limit)."""
        if company not in principal.roles:
            return None
        return self.planner.reach(self.level(principal, company), permission)

    def at_most(self, role: str, level: str | None, than_role: str, than_level: str | None) -> bool:
        """Whether a member with `role` (at access `level`) can do no more, anywhere in the
        company, than one with `than_role` (at `than_level`): fewer or the same permissions,
        reaching no further, narrowed by at least the same conditions."""
        granted = self._role_permissions.get(role, frozenset())  # an undeclared role: none
        if not granted <= self._role_permissions.get(than_role, frozenset()):
            return False
        for permission in granted:
            mine = self.planner.plan(role, level, permission)
            theirs = self.planner.plan(than_role, than_level, permission)
            if theirs.through is not None and (
                mine.through is None or not set(mine.through) <= set(theirs.through)
            ):
                return False
            narrowing = {r.name for b in mine.branches if not b.instance for r in b.rules}
            if (
                not {r.name for b in theirs.branches if not b.instance for r in b.rules}
                <= narrowing
            ):
                return False
        return True

    # -- decisions ---------------------------------------------------------------------------

    def check(self, principal: Principal, permission: str, resource: Resource) -> Decision:
        """Decide whether `principal` holds `permission` on `resource`."""
        company = resource.company
        role = principal.roles.get(company)
        if role is None:  # the common refusal, decided before any plan is looked up
            return Decision(False, permission, evaluate.NOT_MEMBER, principal.user_id, company)
        level = principal.levels.get(company) if principal.levels else None
        plan = self._plans.get((role, level, permission)) or self.planner.plan(
            role, level, permission
        )
        return evaluate.check(plan, principal, resource)

    def bulk_check(
        self, principal: Principal, requests: Iterable[tuple[str, Resource]]
    ) -> list[Decision]:
        """Decide many (permission, resource) questions for one principal, in order."""
        check = self.check
        return [check(principal, permission, resource) for permission, resource in requests]

    def check_every(self, principal: Principal, permission: str, company: ObjectId) -> Decision:
        """Whether `principal` holds `permission` on every resource it applies to in
        `company`, whatever resources exist there now or later: the plan is always allowed.

        Only a tenant role whose access level and conditions do not narrow the permission
        can answer yes; an instance role holds on single resources only.
        """
        plan = self.plan(principal, permission, company)
        if plan.kind == "allowed":
            return Decision(True, permission, evaluate.ROLE_GRANTS, plan.role, company, permission)
        unconditioned = Resource(plan.resource_type, company)
        if plan.grants and plan.through is None:
            rule = next((r for b in plan.branches if not b.instance for r in b.rules), None)
            if rule is not None:
                return Decision(
                    False, permission, _EVERY_STOPS, plan.role, company, permission,
                    plan.resource_type, rule.description, rule.name,
                )  # fmt: skip
        decision = evaluate.check(replace(plan, branches=()), principal, unconditioned)
        return decision

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

    # -- fields ------------------------------------------------------------------------------

    def writable_fields(self, principal: Principal, resource: Resource) -> frozenset[str]:
        """The fields `principal` may change on `resource` with its type's `update`
        permission (empty if none): what the grants holding there let them write, less what
        a condition on the resource refuses (a resolved ticket: only its status). On a
        resource named only by its company (no id): what they may change on every one."""
        update = self._types[resource.type].update
        if update is None:
            return frozenset()
        plan = self.plan(principal, update, resource.company)
        if resource.id is None:
            return evaluate.writable_everywhere(plan)
        return evaluate.writable(plan, principal, resource)

    def settable_fields(self, principal: Principal, resource: Resource) -> frozenset[str]:
        """The fields of its type `principal` may set when creating a resource in
        `resource.company`, beyond what anyone who creates one sets: their role's."""
        role = self.policy.roles.get(principal.roles.get(resource.company, ""))
        if role is None:
            return frozenset()
        return role.writable_fields.get(resource.type, frozenset())

    def authorize_write(
        self,
        principal: Principal,
        resource: Resource,
        changes: Mapping[str, Any],
        creating: bool = False,
    ) -> None:
        """Allow setting `changes` (the API's field names) on `resource`, or on a new one
        when `creating` (`resource` then holds the new values): raise `Forbidden` naming the
        fields and the condition, or the grants' writable fields, that refuse them."""
        rtype = self._types[resource.type]
        permission = rtype.create if creating else rtype.update
        if permission is None:
            raise Forbidden(f"a {rtype.name} is never written", permission=f"{rtype.name}:update")
        after = resource if creating else self.after(resource, changes)
        plan = self.plan(principal, permission, resource.company)
        evaluate.authorize_write(plan, principal, resource, after, changes)

    def allowed_values(
        self,
        principal: Principal,
        resource: Resource,
        fields: Iterable[str],
        creating: bool = False,
    ) -> dict[str, list[str]]:
        """For each of `fields` that takes one of a list of values (its attribute declares
        them), the values `principal` may set on `resource` (a new one when `creating`):
        what the conditions on the written values leave (only admins set `urgent`)."""
        rtype = self._types[resource.type]
        permission = rtype.create if creating else rtype.update
        if permission is None:
            return {}
        plan = self.plan(principal, permission, resource.company)
        by_path = self._attribute_paths[rtype.name]
        found: dict[str, list[str]] = {}
        for name in sorted(fields):
            attr = by_path.get(rtype.fields.get(name, ""))
            if attr is None or not rtype.attributes[attr].values:
                continue
            values = rtype.attributes[attr].values
            allowed = []
            for value in values:
                after = evaluate.overlay(resource, {}, {attr: value})
                try:
                    evaluate.authorize_write(plan, principal, resource, after, [name])
                except Forbidden:
                    continue
                allowed.append(value)
            found[name] = allowed
        return found

    def after(self, resource: Resource, changes: Mapping[str, Any]) -> Resource:
        """`resource` as writing `changes` (the API's field names) would leave it."""
        rtype = self._types[resource.type]
        paths = {rtype.fields[f]: v for f, v in changes.items() if f in rtype.fields}
        attributes = {
            attr: paths[path] for path, attr in self._attribute_paths[rtype.name].items()
            if path in paths
        }  # fmt: skip
        related = {**rtype.relations, **rtype.parents}
        relations = {name: paths[path] for name, path in related.items() if path in paths}
        return evaluate.overlay(resource, relations, attributes)

    def stored_changes(self, resource_type: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """`changes` by the API's field names -> by their document paths."""
        fields = self._types[resource_type].fields
        return {fields[name]: value for name, value in changes.items()}

    def sees_internal_notes(self, principal: Principal, resource: Resource) -> bool:
        """Whether the read projection of `resource` keeps internal notes for `principal`."""
        return self.check(
            principal, self.policy.invariants.internal_notes_require, resource
        ).allowed

    # -- invariants --------------------------------------------------------------------------

    def is_assignable(self, role: str | None) -> bool:
        """Whether a member with tenant role `role` may be assigned tickets."""
        return role in self.policy.invariants.assignable_roles

    def may_be_assigned(self, assignee: Principal, resource: Resource) -> Decision:
        """Whether `assignee` may hold `resource` (as it will be once assigned): a resource in
        a parent (a ticket in a group) only goes to a holder of the policy's
        `assigned_within` role on it, unless the assignee's access to the type is not
        limited."""
        within = self.policy.invariants.assigned_within
        permission = f"{resource.type}:*"
        if within is None:
            return Decision(True, permission, _ASSIGNEE_INSIDE, resource.type)
        parent, _, role = within.partition("#")
        in_parent = resource.relations.get(parent)
        level = self.level(assignee, resource.company)
        limited = self.planner.reach(level, self._types[resource.type].read)
        held = assignee.resource_roles.get(in_parent) if in_parent is not None else None
        if (
            in_parent is None
            or limited is None
            or (held is not None and held.resource_type == parent and role in held.roles)
        ):
            return Decision(True, permission, _ASSIGNEE_INSIDE, resource.type)
        return Decision(False, permission, _ASSIGNEE_OUTSIDE, parent, resource.type, level)

    @property
    def owner_role(self) -> str:
        """The role a company's creator receives and the company must always keep."""
        return self.policy.invariants.owner_role

    @property
    def roles(self) -> frozenset[str]:
        """The tenant roles the policy declares."""
        return frozenset(self.policy.roles)

    def role_granted_with(self, permission: str) -> InstanceRole:
        """The instance role a member holding `permission` gives (`ticket:share` gives
        `ticket#viewer`)."""
        for irole in self.policy.instance_roles.values():
            if irole.granted_with == permission:
                return irole
        raise LookupError(f"no instance role is granted with {permission}")

    def many_relations(self) -> list[tuple[str, str, str]]:
        """Every many-valued relation of the policy: (resource type, its tenant path, the
        relation's path), the places a member holds in their company's resources."""
        return [
            (name, rtype.tenant, rtype.relations[relation])
            for name, rtype in self._types.items()
            for relation in rtype.many
        ]

    def instance_roles(self, resource_type: str) -> tuple[InstanceRole, ...]:
        """The instance roles held on resources of `resource_type`."""
        return self.planner.instance_roles.get(resource_type, ())

    # -- resources ---------------------------------------------------------------------------

    def resource_type(self, name: str) -> ResourceType:
        """The policy's declaration of a resource type."""
        return self._types[name]

    def resource_of(self, resource_type: str, doc: Mapping[str, Any]) -> Resource:
        """The `Resource` a stored document stands for, with the relations and attributes
        the policy uses.

        The document paths come from the policy (`tenant`, `relations`, `parents`,
        `attributes`): the one mapping between the policy's names and the documents.
        """
        rtype = self._types[resource_type]
        relations = {name: value_at(doc, path) for name, path in rtype.relations.items()}
        relations |= {name: value_at(doc, path) for name, path in rtype.parents.items()}
        attributes = {name: value_at(doc, a.path) for name, a in rtype.attributes.items()}
        return Resource(
            resource_type, value_at(doc, rtype.tenant), doc.get("_id"), relations, attributes
        )

    def paths(self, resource_type: str) -> list[str]:
        """Every document path a decision about `resource_type` reads."""
        rtype = self._types[resource_type]
        found = [rtype.tenant, *rtype.relations.values(), *rtype.parents.values()]
        return found + [a.path for a in rtype.attributes.values()]

    # -- filters and graphs ------------------------------------------------------------------

    def query_filter(
        self, principal: Principal, permission: str, resource_type: str
    ) -> dict[str, Any]:
        """`permission` on `resource_type` as a MongoDB filter for `principal`: the plans of
        their companies compiled by `authz.mongo` (an `$or` of tenant-led branches; none
        matches nothing)."""
        plans = ((c, self.plan(principal, permission, c)) for c in principal.roles)
        return mongo.compile_filter(plans, principal, self._types[resource_type].tenant)

    def company_filter(
        self, principal: Principal, permission: str, company: ObjectId
    ) -> dict[str, Any]:
        """`permission` as a filter over one company's resources."""
        plan = self.plan(principal, permission, company)
        tenant = self._types[plan.resource_type].tenant
        return mongo.compile_filter([(company, plan)], principal, tenant)

    def permissions(
        self,
        principal: Principal,
        companies: Sequence[ObjectId] | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The caller's permission graph (`authz.graph`)."""
        return permission_graph(self, principal, companies, limit)


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
