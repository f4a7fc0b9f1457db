"""A plan decided on one resource: `check` (with the reason that names the grant, or the
rule that refused), the fields a caller may write, and a write's own decision.

No I/O: the resource is what the caller already read (`Engine.resource_of`).
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from authz.conditions import AllOf, AnyOf, Caller, Held, Meaning, Not, NowPlus, Term, names_new
from authz.errors import Forbidden
from authz.model import Decision, Principal, Resource, names
from authz.plan import Branch, Plan, Rule

NOT_MEMBER = "user {0} is not a member of company {1}"
ROLE_GRANTS = "role '{0}' in company {1} grants {2}"
ROLE_REACHES = "role '{0}' in company {1} grants {2} on this {3}, reached as {4} ({5} access)"
ROLE_STOPS = "role '{0}' in company {1} grants {2} only on a {3} reached as {4} ({5} access)"
ROLE_LACKS = "role '{0}' in company {1} lacks {2}"
INSTANCE_DERIVED = "instance role {0} (as {1} of {2} {3}) grants {4}"
REFUSED_BY = "{0} grants {1}, but not on this {2}: {3} (condition {4})"
UNKNOWN = "unknown permission {0}"


def holds(
    meaning: Meaning,
    principal: Principal,
    resource: Resource,
    after: Resource | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether `meaning` is true of `resource` for `principal`; `new.` terms read `after`,
    the resource as a write would leave it."""
    if isinstance(meaning, Term):
        return _term(meaning, principal, resource, after, now)
    if isinstance(meaning, AllOf):
        return all(holds(m, principal, resource, after, now) for m in meaning.items)
    if isinstance(meaning, AnyOf):
        return any(holds(m, principal, resource, after, now) for m in meaning.items)
    assert isinstance(meaning, Not)  # noqa: S101 - the meanings are a closed family
    return not holds(meaning.item, principal, resource, after, now)


def _term(
    term: Term,
    principal: Principal,
    resource: Resource,
    after: Resource | None,
    now: datetime | None,
) -> bool:
    source = after if term.new and after is not None else resource
    if term.kind == "attribute":
        value = source.attributes.get(term.name)
    else:
        value = source.relations.get(term.name)
    bound: Any = term.value
    op = term.op
    if isinstance(bound, Caller):
        bound = principal.user_id
    elif isinstance(bound, Held):
        bound = tuple(held_ids(principal, bound, resource.company))
    elif isinstance(bound, NowPlus):
        bound = (now or datetime.now(UTC)) + bound.offset
    if op in ("eq", "ne"):
        if term.many:
            equal = names(value, bound)
        elif bound is True:  # a boolean attribute: missing is false
            equal = value is True
        else:
            equal = value == bound
        return equal if op == "eq" else not equal
    if op in ("in", "nin"):
        inside = value in bound
        return inside if op == "in" else not inside
    negated = op.startswith("n")
    base = op[1:] if negated else op
    if value is None:
        result = False
    elif base == "lt":
        result = value < bound
    elif base == "lte":
        result = value <= bound
    elif base == "gt":
        result = value > bound
    else:
        result = value >= bound
    return not result if negated else result


def held_ids(principal: Principal, held: Held, company: Any) -> Iterable[Any]:
    """The ids of the resources of `held.resource_type` in `company` on which the
    principal holds `held.role` (from their facts: the groups they are in)."""
    return [
        rid
        for rid, roles in principal.resource_roles.items()
        if roles.resource_type == held.resource_type
        and roles.company == company
        and held.role in roles.roles
    ]


def check(plan: Plan, principal: Principal, resource: Resource) -> Decision:
    """Decide `plan` on `resource`: allowed by the first branch that holds, naming it;
    otherwise refused, naming the rule that refused a grant that reached the resource, or
    how far the role reaches, or what it lacks."""
    permission, company = plan.permission, resource.company
    if plan.role is None:
        return Decision(False, permission, NOT_MEMBER, principal.user_id, company)
    refused: tuple[Branch, Rule] | None = None
    for branch in plan.branches:
        if branch.reach is not None and not holds(branch.reach, principal, resource):
            continue
        broken = None
        for rule in branch.rules:
            if not holds(rule.meaning, principal, resource):
                broken = rule
                break
        if broken is None:
            return _allowed(plan, branch, resource)
        refused = refused or (branch, broken)
    if refused is not None:
        branch, rule = refused
        return Decision(
            False, permission, REFUSED_BY, _grantor(plan, branch, resource), permission,
            resource.type, rule.description, rule.name,
        )  # fmt: skip
    if not plan.known:
        return Decision(False, permission, UNKNOWN, permission)
    if plan.grants and plan.through is not None:
        return Decision(
            False, permission, ROLE_STOPS, plan.role, company, permission, plan.resource_type,
            " or ".join(plan.through), plan.level,
        )  # fmt: skip
    return Decision(False, permission, ROLE_LACKS, plan.role, company, permission)


def _allowed(plan: Plan, branch: Branch, resource: Resource) -> Decision:
    permission, company = plan.permission, resource.company
    if branch.instance:
        return Decision(
            True, permission, INSTANCE_DERIVED, branch.role, branch.through, resource.type,
            resource.id, permission,
        )  # fmt: skip
    if branch.through is None:
        return Decision(True, permission, ROLE_GRANTS, branch.role, company, permission)
    return Decision(
        True, permission, ROLE_REACHES, branch.role, company, permission, resource.type,
        branch.through, plan.level,
    )  # fmt: skip


def _grantor(plan: Plan, branch: Branch, resource: Resource) -> str:
    if branch.instance:
        return f"instance role {branch.role} (as {branch.through} of {resource.type} {resource.id})"
    return f"role '{branch.role}' in company {resource.company}"


def holding(plan: Plan, principal: Principal, resource: Resource) -> list[Branch]:
    """The branches of `plan` that hold on `resource`."""
    return [
        b
        for b in plan.branches
        if (b.reach is None or holds(b.reach, principal, resource))
        and all(holds(r.meaning, principal, resource) for r in b.rules)
    ]


def writable(plan: Plan, principal: Principal, resource: Resource) -> frozenset[str]:
    """The fields the grants holding on `resource` let the caller write, less those a rule
    on the resource as it is refuses; a rule on the value written (`new.`) is the write's
    own to decide (`authorize_write`)."""
    fields: set[str] = set()
    for branch in holding(plan, principal, resource):
        for name in branch.fields:
            rules = branch.field_rules.get(name, ())
            if all(names_new(r.meaning) or holds(r.meaning, principal, resource) for r in rules):
                fields.add(name)
    return frozenset(fields)


def writable_everywhere(plan: Plan) -> frozenset[str]:
    """The fields the caller may write on every resource of the company: those of the
    unconditional grants that no rule on the resource narrows."""
    return frozenset(
        name
        for branch in plan.branches
        if branch.unconditional
        for name in branch.fields
        if all(names_new(r.meaning) for r in branch.field_rules.get(name, ()))
    )


def authorize_write(
    plan: Plan,
    principal: Principal,
    resource: Resource,
    after: Resource,
    fields: Iterable[str],
) -> None:
    """Allow writing `fields` (leaving `after`), or raise `Forbidden` naming the fields and
    why: a rule that refuses them, or the grants' writable fields."""
    grants = holding(plan, principal, resource)
    refused: dict[str, Rule | None] = {}
    for name in fields:
        reason: Rule | None = None
        for branch in grants:
            if name not in branch.fields:
                continue
            rules = branch.field_rules.get(name, ())
            broken = next(
                (r for r in rules if not holds(r.meaning, principal, resource, after)), None
            )
            if broken is None:
                break
            reason = reason or broken
        else:
            refused[name] = reason
    if not refused:
        return
    by_rule = {r.name: r for r in refused.values() if r is not None}
    if by_rule:
        rule = next(iter(by_rule.values()))
        fields_named = sorted(
            f for f, r in refused.items() if r is not None and r.name == rule.name
        )
        message = f"{', '.join(fields_named)}: {rule.description} (condition {rule.name})"
    else:
        allowed = sorted({f for b in grants for f in b.fields})
        message = (
            f"role '{plan.role}' in company {resource.company} lacks {plan.permission} on "
            f"{', '.join(sorted(refused))} (it may change: {', '.join(allowed) or 'nothing'})"
        )
    raise Forbidden(message, permission=plan.permission, fields=sorted(refused))


def overlay(
    resource: Resource, relations: Mapping[str, Any], attributes: Mapping[str, Any]
) -> Resource:
    """`resource` with some relations and attributes replaced (as a write would leave it)."""
    return Resource(
        resource.type,
        resource.company,
        resource.id,
        {**resource.relations, **relations},
        {**resource.attributes, **attributes},
    )
