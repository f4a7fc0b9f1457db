"""Plans rendered as the caller's permission graph (`/me/permissions`), shaped like the
tutorial's `getUserPermissions`: per company, what holds on every resource of it and what
holds only where an access level or a condition lets it; per resource an access level
reaches through (a group), the roles held on it; and the instance roles derived from
relations, described once as the relations they are (a ticket shared with the caller is
one whose `viewer` names them) rather than listed, so the graph does not grow with them.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from authz.errors import InvalidInput
from authz.model import Principal

if TYPE_CHECKING:
    from authz.engine import Engine

GRAPH_RESOURCES = 1000
"""Resources a permission graph lists at most; a larger one is refused with how to narrow."""


def permission_graph(
    engine: "Engine",
    principal: Principal,
    companies: Sequence[ObjectId] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The graph of `principal`, for `companies` (None: all of theirs); at most `limit`
    (`GRAPH_RESOURCES`) resources listed: a larger graph is refused (`InvalidInput`),
    never cut short."""
    limit = GRAPH_RESOURCES if limit is None else limit
    wanted = set(companies) if companies is not None else None
    policy = engine.policy
    graph: dict[str, Any] = {
        "user_id": str(principal.user_id),
        "companies": {},
        "resources": {},
        "derived": [],
        "conditions": {
            name: {
                "description": c.description,
                "when": c.when,
                "permissions": sorted(c.permissions),
                **({"roles": sorted(c.roles)} if c.roles else {}),
                **({"fields": sorted(c.fields)} if c.fields else {}),
            }
            for name, c in policy.conditions.items()
        },
    }
    for company, role in principal.roles.items():
        if role in policy.roles and (wanted is None or company in wanted):
            graph["companies"][str(company)] = _company(engine, principal, company, role)
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
        for irole in engine.instance_roles(held.resource_type):
            if irole.role in held.roles:
                perms |= irole.permissions
                names.append(irole.name)
        graph["resources"][str(rid)] = {
            "resource_type": held.resource_type,
            "company_id": str(held.company),
            "roles": names,
            "permissions": sorted(perms),
        }
    for irole in policy.instance_roles.values():
        rtype = policy.resource_types[irole.resource_type]
        narrowed = sorted(
            name
            for name, c in policy.conditions.items()
            if c.permissions & irole.permissions and (not c.roles or irole.name in c.roles)
        )
        for relation in irole.derived_from:
            many = relation in rtype.many
            graph["derived"].append(
                {
                    "role": irole.name,
                    "relation": relation,
                    "holds_on": f"every {rtype.name} whose {relation} "
                    + ("relation names you" if many else "is you"),
                    "permissions": sorted(irole.permissions),
                    **({"conditions": narrowed} if narrowed else {}),
                }
            )
    return graph


def _company(
    engine: "Engine", principal: Principal, company: ObjectId, role: str
) -> dict[str, Any]:
    """A company: the permissions that hold on every resource there; those an access level
    limits to resources reached through a relation; those conditions narrow."""
    whole: list[str] = []
    limited: dict[str, list[str]] = {}
    narrowed: dict[str, list[str]] = {}
    for perm in sorted(engine.policy.roles[role].permissions):
        plan = engine.plan(principal, perm, company)
        if plan.kind == "allowed":
            whole.append(perm)
            continue
        if plan.through is not None:
            limited[perm] = list(plan.through)
        rules = sorted({r.name for b in plan.branches if not b.instance for r in b.rules})
        if rules:
            narrowed[perm] = rules
    return {
        "roles": [role],
        "access": engine.level(principal, company),
        "permissions": whole,
        "limited": limited,
        "conditions": narrowed,
    }
