"""The plan: what the policy lets a member with a given role do, before any resource is read.

For (role, access level, permission) the policy gives one `Plan` (cerbos's `PlanResources`
shape): its kind first, always allowed, always denied or conditional, then its branches.
A branch is one grant: the tenant role, whole or as far as its access level reaches (one
branch per relation or parent it reaches through), or an instance role through one of its
relations (the ticket's creator, its viewers); with the conditions that narrow it, and,
for a write, the fields it lets its holder set and the conditions on setting each.

Nothing here is about one caller or one resource: `caller`, the groups they are in and the
clock are bound when the plan is used. `authz.evaluate` decides a plan on one resource,
`authz.mongo` compiles it into a filter, `authz.graph` renders it as the permission graph;
each reads the plan, none re-derives a rule. Each meaning is compiled once, with the plan,
into the test `check` runs (`authz.predicate`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from authz.conditions import AllOf, AnyOf, Caller, Held, Meaning, Not, Term
from authz.policy import InstanceRole, Policy, ResourceType, condition_meaning
from authz.predicate import Test, predicate

Kind = Literal["allowed", "denied", "conditional"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A condition of the policy, by name, as it applies to one grant."""

    name: str
    description: str
    meaning: Meaning
    test: Test = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", predicate(self.meaning))


@dataclass(frozen=True, slots=True)
class Branch:
    """One grant of a permission, and what narrows it.

    `role` is the tenant role or the instance role granting it; `through` the relation or
    parent role it holds through (None: every resource of the company), whose term is
    `reach`; `rules` the conditions it holds under; `fields` what it lets its holder write
    (for the type's update and create permissions), each under `field_rules`.
    """

    role: str
    instance: bool
    through: str | None
    reach: Meaning | None
    rules: tuple[Rule, ...] = ()
    fields: frozenset[str] = frozenset()
    field_rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    reaches: Test = field(init=False, repr=False, compare=False)
    """`reach` compiled: whether the grant reaches the resource at all."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reaches", predicate(self.reach))

    @property
    def unconditional(self) -> bool:
        """Whether the branch holds on every resource of the company."""
        return self.reach is None and not self.rules


@dataclass(frozen=True, slots=True)
class Plan:
    """A permission for a member with `role` (None: not a member) at access `level`.

    `grants`: the tenant role grants the permission at all; `through`: how far its access
    level lets it reach (None: not limited). `known`: the permission exists.
    """

    permission: str
    resource_type: str
    kind: Kind
    branches: tuple[Branch, ...]
    role: str | None
    level: str | None
    grants: bool = False
    through: tuple[str, ...] | None = None
    known: bool = True


class Planner:
    """Plans for one validated policy, built once per (role, level, permission)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._rules = {
            name: Rule(name, c.description, condition_meaning(policy, c))
            for name, c in policy.conditions.items()
        }
        by_type: dict[str, list[InstanceRole]] = {}
        for irole in policy.instance_roles.values():
            by_type.setdefault(irole.resource_type, []).append(irole)
        self.instance_roles = {t: tuple(rs) for t, rs in by_type.items()}
        self.default_level = {name: r.access[0] for name, r in policy.roles.items()}
        self._reach = {
            (level.name, type_name): through
            for level in policy.access_levels.values()
            for type_name, through in level.reach.items()
        }
        self.plans: dict[tuple[str | None, str | None, str], Plan] = {}
        """The plans built so far, by (role, level, permission): read directly on the
        hottest path (`Engine.check`), built by `plan`."""

    def reach(self, level: str | None, permission: str) -> tuple[str, ...] | None:
        """The relations (or parent roles) through which a role's `permission` still holds
        at access `level` (None: not limited). Creating is decided on the company, where a
        level does not reach."""
        resource_type = permission.partition(":")[0]
        rtype = self.policy.resource_types.get(resource_type)
        if level is None or rtype is None or permission == rtype.create:
            return None
        return self._reach.get((level, resource_type))

    def plan(self, role: str | None, level: str | None, permission: str) -> Plan:
        """The plan of `permission` for a member with `role` at `level` (cached)."""
        key = (role, level, permission)
        found = self.plans.get(key)
        if found is None:
            found = self.plans[key] = self._build(role, level, permission)
        return found

    def _build(self, role: str | None, level: str | None, permission: str) -> Plan:
        resource_type = permission.partition(":")[0]
        rtype = self.policy.resource_types.get(resource_type)
        if role not in self.policy.roles:  # a role a policy no longer declares: no rights
            role = None
        if role is None or rtype is None or permission not in self.policy.permissions:
            known = rtype is not None and permission in self.policy.permissions
            return Plan(permission, resource_type, "denied", (), role, level, known=known)
        level = level or self.default_level[role]
        branches: list[Branch] = []
        grants = permission in self.policy.roles[role].permissions
        through = self.reach(level, permission) if grants else None
        if grants:
            fields = self._fields(rtype, role, permission)
            rules = self._rules_for(role, level, role, permission)
            field_rules = self._field_rules(role, level, role, permission, fields)
            for path in through if through is not None else (None,):
                reach = None if path is None else _reach_term(rtype, path)
                branches.append(Branch(role, False, path, reach, rules, fields, field_rules))
        for irole in self.instance_roles.get(resource_type, ()):
            if permission not in irole.permissions:
                continue
            fields = irole.writable_fields if permission == rtype.update else frozenset()
            rules = self._rules_for(role, level, irole.name, permission)
            field_rules = self._field_rules(role, level, irole.name, permission, fields)
            for relation in irole.derived_from:
                reach = _relation_term(rtype, relation)
                branches.append(
                    Branch(irole.name, True, relation, reach, rules, fields, field_rules)
                )
        live = tuple(b for b in branches if not any(r.meaning is _NEVER for r in b.rules))
        kind: Kind = (
            "allowed" if any(b.unconditional for b in live) else "conditional" if live else "denied"
        )
        return Plan(permission, resource_type, kind, live, role, level, grants, through)

    def _fields(self, rtype: ResourceType, role: str, permission: str) -> frozenset[str]:
        writable = self.policy.roles[role].writable_fields.get(rtype.name, frozenset())
        if permission == rtype.update:
            return writable
        if permission == rtype.create:
            return writable | rtype.create_fields
        return frozenset()

    def _applies(self, granted_by: str, permission: str) -> list[tuple[str, frozenset[str]]]:
        """The conditions on `permission` for grants of role `granted_by`: (name, fields)."""
        return [
            (name, c.fields)
            for name, c in self.policy.conditions.items()
            if permission in c.permissions and (not c.roles or granted_by in c.roles)
        ]

    def _rules_for(
        self, role: str, level: str, granted_by: str, permission: str
    ) -> tuple[Rule, ...]:
        rules = []
        for name, fields in self._applies(granted_by, permission):
            if not fields:
                rule = self._folded(name, role, level)
                if rule is not None:
                    rules.append(rule)
        return tuple(rules)

    def _field_rules(
        self, role: str, level: str, granted_by: str, permission: str, fields: frozenset[str]
    ) -> dict[str, tuple[Rule, ...]]:
        found: dict[str, list[Rule]] = {}
        for name, on in self._applies(granted_by, permission):
            for f in on & fields:
                rule = self._folded(name, role, level)
                if rule is not None:
                    found.setdefault(f, []).append(rule)
        return {f: tuple(rs) for f, rs in found.items()}

    def _folded(self, name: str, role: str, level: str) -> Rule | None:
        """A rule with the caller's role and level put in: None if that makes it hold
        always; a rule that can never hold keeps the `_NEVER` meaning."""
        rule = self._rules[name]
        meaning = fold(rule.meaning, role, level)
        if meaning is True:
            return None
        return Rule(rule.name, rule.description, _NEVER if meaning is False else meaning)


_NEVER: Meaning = AnyOf(())  # no alternative holds


def fold(meaning: Meaning, role: str, level: str) -> Meaning | bool:
    """`meaning` with the caller's role and access level put in, simplified: True or False
    when that decides it."""
    if isinstance(meaning, Term):
        if meaning.kind != "caller":
            return meaning
        fact = role if meaning.name == "role" else level
        value = meaning.value
        if meaning.op in ("in", "nin"):
            inside = isinstance(value, tuple) and fact in value
            return inside if meaning.op == "in" else not inside
        return (fact == value) if meaning.op == "eq" else (fact != value)
    if isinstance(meaning, Not):
        inner = fold(meaning.item, role, level)
        return (not inner) if isinstance(inner, bool) else Not(inner)
    folded = [fold(m, role, level) for m in meaning.items]
    decisive = isinstance(meaning, AnyOf)  # True decides an `or`, False an `and`
    if decisive in folded:
        return decisive
    rest = tuple(m for m in folded if not isinstance(m, bool))
    if not rest:
        return not decisive
    if len(rest) == 1:
        return rest[0]
    return AnyOf(rest) if decisive else AllOf(rest)


def _relation_term(rtype: ResourceType, relation: str) -> Term:
    """The relation names the caller."""
    return Term(
        "relation", relation, rtype.relations[relation], "eq", Caller(), many=relation in rtype.many
    )


def _reach_term(rtype: ResourceType, path: str) -> Term:
    """What an access level reaches through: a relation naming the caller, or a parent the
    caller holds a role on (`group#member`)."""
    parent, _, role = path.partition("#")
    if not role:
        return _relation_term(rtype, path)
    return Term("parent", parent, rtype.parents[parent], "in", Held(parent, role))
