"""`Engine.check_every`: the type-level question, with no database.

"Holds on every resource of the company" means: the plan is always allowed, so on each
resource there, whatever its relations, attributes and whoever it was shared with,
`check` allows; it is never true because of an instance role (which holds on single
resources), nor where an access level or a condition narrows the role.
"""

import itertools

from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from authz.engine import Principal, Resource, ResourceRoles, default_engine

ENGINE = default_engine()
PERMISSIONS = sorted(ENGINE.policy.permissions)
ROLES = sorted(ENGINE.policy.roles)
LEVELS = sorted(ENGINE.policy.access_levels)
ACME, GLOBEX = ObjectId(), ObjectId()
GROUP = ObjectId()


def principal(role: str | None, level: str | None = None, in_group: bool = False) -> Principal:
    """A user with `role` in Acme (or none), at access `level`, maybe in Acme's group."""
    roles = {ACME: role} if role else {}
    levels = {ACME: level} if role and level else {}
    groups = {GROUP: ResourceRoles("group", ACME, frozenset({"member"}))} if in_group else {}
    return Principal(ObjectId(), roles, groups, levels)


def test_a_tenant_role_answers_for_every_resource() -> None:
    admin, agent, customer = principal("admin"), principal("agent"), principal("customer")
    assert ENGINE.check_every(admin, "ticket:read", ACME).allowed
    assert ENGINE.check_every(agent, "ticket:create", ACME).allowed
    assert not ENGINE.check_every(agent, "ticket:delete", ACME).allowed
    decision = ENGINE.check_every(customer, "ticket:read", ACME)
    assert not decision.allowed
    assert decision.reason == f"role 'customer' in company {ACME} lacks ticket:read"
    assert ENGINE.check_every(customer, "ticket:create", ACME).reason == (
        f"role 'customer' in company {ACME} grants ticket:create"
    )


def test_never_where_a_condition_or_a_level_narrows_the_role() -> None:
    """An agent reads every ticket of the company but the confidential ones not assigned to
    them; one scoped to groups, those of their groups."""
    every = ENGINE.check_every(principal("agent"), "ticket:read", ACME)
    assert not every.allowed and "(condition confidential)" in every.reason
    scoped = ENGINE.check_every(principal("agent", "groups"), "ticket:read", ACME)
    assert not scoped.allowed and "reached as assignee or group#member" in scoped.reason


def test_never_because_of_an_instance_role() -> None:
    """A customer who created a ticket, and had another shared with them, may read those
    two: not every ticket of the company."""
    customer = principal("customer")
    own = Resource("ticket", ACME, ObjectId(), {"creator": customer.user_id})
    shared = Resource("ticket", ACME, ObjectId(), {"viewer": [ObjectId(), customer.user_id]})
    assert ENGINE.check(customer, "ticket:read", own).allowed
    assert ENGINE.check(customer, "ticket:read", shared).allowed
    assert not ENGINE.check_every(customer, "ticket:read", ACME).allowed


def test_outside_the_company_and_unknown_permissions_are_denied() -> None:
    admin = principal("admin")
    outside = ENGINE.check_every(admin, "ticket:read", GLOBEX)
    assert not outside.allowed
    assert outside.reason == f"user {admin.user_id} is not a member of company {GLOBEX}"
    unknown = ENGINE.check_every(admin, "ticket:fly", ACME)
    assert not unknown.allowed
    assert unknown.reason == "unknown permission ticket:fly"


def probes(user: ObjectId, created: bool, shared: bool) -> list[Resource]:
    """Resources of Acme of every kind a condition or a level tells apart: in the group or
    not, assigned to the user or not, confidential or not, at every status."""
    found = []
    statuses = ENGINE.resource_type("ticket").attributes["status"].values
    for group, assigned, confidential, status in itertools.product(
        (None, GROUP), (False, True), (False, True), statuses
    ):
        relations: dict[str, object] = {
            "creator": user if created else ObjectId(),
            "assignee": user if assigned else None,
            "viewer": [user] if shared else [],
            "group": group,
        }
        attributes = {"confidential": confidential, "status": status, "priority": "normal"}
        found.append(Resource("ticket", ACME, ObjectId(), relations, attributes))
    return found


@given(
    role=st.sampled_from([None, *ROLES]),
    level=st.sampled_from([None, *LEVELS]),
    in_group=st.booleans(),
    permission=st.sampled_from(PERMISSIONS),
    created=st.booleans(),
    shared=st.booleans(),
)
def test_every_means_each_one(
    role: str | None,
    level: str | None,
    in_group: bool,
    permission: str,
    created: bool,
    shared: bool,
) -> None:
    """True: `check` allows on every resource of the company, related to the user or not,
    whatever its attributes. False: some resource of the company, one unrelated to the
    user, is denied."""
    allowed_levels = ENGINE.policy.roles[role].access if role else ()
    p = principal(role, level if level in allowed_levels else None, in_group)
    rtype = permission.split(":", 1)[0]
    every = ENGINE.check_every(p, permission, ACME).allowed
    if rtype != "ticket":
        resource = Resource(rtype, ACME, ObjectId())
        assert every == ENGINE.check(p, permission, resource).allowed
        return
    related = probes(p.user_id, created, shared)
    unrelated = probes(p.user_id, created=False, shared=False)
    if every:
        assert all(ENGINE.check(p, permission, r).allowed for r in related + unrelated)
    else:
        assert not all(ENGINE.check(p, permission, r).allowed for r in unrelated)
