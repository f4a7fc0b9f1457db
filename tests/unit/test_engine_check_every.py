"""`Engine.check_every`: the type-level question, with no database.

"Holds on every resource of the company" means: on each resource there, whatever its
relations and whoever it was shared with, `check` allows; and it is never true because of
an instance role, which holds on single resources only.
"""

from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from authz.engine import Principal, Resource, default_engine

ENGINE = default_engine()
PERMISSIONS = sorted(ENGINE.policy.permissions)
ROLES = sorted(ENGINE.policy.roles)
ACME, GLOBEX = ObjectId(), ObjectId()


def principal(role: str | None) -> Principal:
    """A user with `role` in Acme (or none)."""
    return Principal(ObjectId(), {ACME: role} if role else {})


def test_a_tenant_role_answers_for_every_resource() -> None:
    admin, agent, customer = principal("admin"), principal("agent"), principal("customer")
    assert ENGINE.check_every(admin, "ticket:read", ACME).allowed
    assert ENGINE.check_every(agent, "ticket:read", ACME).allowed
    assert not ENGINE.check_every(agent, "ticket:delete", ACME).allowed
    decision = ENGINE.check_every(customer, "ticket:read", ACME)
    assert not decision.allowed
    assert decision.reason == f"role 'customer' in company {ACME} lacks ticket:read"
    assert ENGINE.check_every(customer, "ticket:create", ACME).reason == (
        f"role 'customer' in company {ACME} grants ticket:create"
    )


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


@given(
    role=st.sampled_from([None, *ROLES]),
    permission=st.sampled_from(PERMISSIONS),
    created=st.booleans(),
    shared=st.booleans(),
)
def test_every_means_each_one(
    role: str | None, permission: str, created: bool, shared: bool
) -> None:
    """True: `check` allows on any resource of the company, related to the user or not.
    False: some resource of the company (one unrelated to the user) is denied."""
    p = principal(role)
    resource_type = permission.split(":", 1)[0]
    relations: dict[str, object] = {"creator": p.user_id} if created else {}
    if shared:
        relations["viewer"] = [p.user_id]
    related = Resource(resource_type, ACME, ObjectId(), relations)
    unrelated = Resource(resource_type, ACME, ObjectId(), {"creator": ObjectId()})
    every = ENGINE.check_every(p, permission, ACME).allowed
    if every:
        assert ENGINE.check(p, permission, related).allowed
        assert ENGINE.check(p, permission, unrelated).allowed
    else:
        assert not ENGINE.check(p, permission, unrelated).allowed
