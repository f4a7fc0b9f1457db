"""A plan decided on one resource: `check` (with the reason that names the grant, or the
rule that refused), the fields a caller may write, and a write's own decision.

No I/O: the resource is what the caller already read (`Engine.resource_of`).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from authz.conditions import names_new
from authz.errors import Forbidden
from authz.model import Decision, Principal, Resource
from authz.plan import Branch, Plan, Rule

NOT_MEMBER = "user {0} is not a member of company {1}"
ROLE_GRANTS = "role '{0}' in company {1} grants {2}"
ROLE_REACHES = "role '{0}' in company {1} grants {2} on this {3}, reached as {4} ({5} access)"
ROLE_STOPS = "role '{0}' in company {1} grants {2} only on a {3} reached as {4} ({5} access)"
ROLE_LACKS = "role '{0}' in company {1} lacks {2}"
INSTANCE_DERIVED = "instance role {0} (as {1} of {2} {3}) grants {4}"
REFUSED_BY = "{0} grants {1}, but not on this {2}: {3} (condition {4})"
UNKNOWN = "unknown permission {0}"


def check(plan: Plan, principal: Principal, resource: Resource) -> Decision:
    """Decide `plan` on `resource`: allowed by the first branch that holds, naming it;
    otherwise refused, naming the rule that refused a grant that reached the resource, or
    how far the role reaches, or what it lacks."""
    permission, company = plan.permission, resource.company
    if plan.role is None:
        return Decision(False, permission, NOT_MEMBER, principal.user_id, company)
    refused: tuple[Branch, Rule] | None = None
    for branch in plan.branches:
        if not branch.reaches(principal, resource, None, None):
            continue
        broken = None
        for rule in branch.rules:
            if not rule.test(principal, resource, None, None):
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
        if b.reaches(principal, resource, None, None)
        and all(r.test(principal, resource, None, None) for r in b.rules)
    ]


def writable(plan: Plan, principal: Principal, resource: Resource) -> frozenset[str]:
    """The fields the grants holding on `resource` let the caller write, less those a rule
    on the resource as it is refuses; a rule on the value written (`new.`) is the write's
    own to decide (`authorize_write`)."""
    fields: set[str] = set()
    for branch in holding(plan, principal, resource):
        for name in branch.fields:
            rules = branch.field_rules.get(name, ())
            if all(names_new(r.meaning) or r.test(principal, resource, None, None) for r in rules):
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
            broken = next((r for r in rules if not r.test(principal, resource, after, None)), None)
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
