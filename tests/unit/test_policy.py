"""The policy file: validated at start, and the engine's decisions explain themselves."""

import copy
import tomllib
from typing import Any

import pytest
from bson import ObjectId

from authz.engine import Engine, GrantFact, Principal, Resource, default_engine
from authz.errors import Forbidden, NotFound
from authz.policy import DEFAULT_POLICY_PATH, PolicyError, parse_policy

RAW = tomllib.loads(DEFAULT_POLICY_PATH.read_text())


def mutated(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["roles"]["agent"]["permissions"].append("ticket:fly"), "undeclared"),
        (lambda r: r["invariants"].update(owner_role="owner"), "owner_role"),
        (
            lambda r: r["roles"]["admin"]["writable_fields"]["ticket"].append("company_id"),
            "may only name",
        ),
        (
            lambda r: r["roles"]["customer"].update(writable_fields={"ticket": ["status"]}),
            "lacks ticket:update",
        ),
        (
            lambda r: r["instance_roles"]["ticket#viewer"]["permissions"].append("audit:read"),
            "may only grant",
        ),
        (
            lambda r: r["instance_roles"]["ticket#viewer"].update(derived_from=["password"]),
            "undeclared relations",
        ),
        (lambda r: r["invariants"].update(assignable_roles=["owner"]), "unknown roles"),
        (lambda r: r["permissions"].update({"nothing:x": "x"}), "resource type"),
        (lambda r: r["roles"]["admin"]["permissions"].append("company:read"), "twice"),
        (lambda r: r["resource_types"]["ticket"].update(colection="tickets"), "colection"),
    ],
)
def test_inconsistent_policies_are_refused(change: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(mutated(change))


def test_shipped_policy_matches_the_design_table() -> None:
    roles = default_engine().policy.roles
    assert "ticket:delete" in roles["admin"].permissions
    assert "ticket:delete" not in roles["agent"].permissions
    assert "members:add" not in roles["agent"].permissions
    assert roles["customer"].permissions == {"company:read", "ticket:create"}
    assert roles["agent"].writable_fields == {
        "ticket": {"status", "priority", "assigned_to", "group_id"}
    }
    assert roles["agent"].access == ("all", "groups", "assigned")
    assert roles["admin"].access == ("all",)


ACME, GLOBEX = ObjectId(), ObjectId()
MARK = ObjectId()


def test_decisions_carry_reasons() -> None:
    engine = default_engine()
    mark = Principal(MARK, {ACME: "agent", GLOBEX: "customer"})
    own = Resource("ticket", GLOBEX, ObjectId(), {"creator": MARK})
    other = Resource("ticket", GLOBEX, ObjectId(), {"creator": ObjectId()})
    acme_ticket = Resource("ticket", ACME, ObjectId(), {"creator": ObjectId()})

    d = engine.check(mark, "ticket:delete", acme_ticket)
    assert not d.allowed
    assert d.reason == f"role 'agent' in company {ACME} lacks ticket:delete"
    assert engine.check(mark, "ticket:read", acme_ticket).reason == (
        f"role 'agent' in company {ACME} grants ticket:read"
    )
    assert "as creator" in engine.check(mark, "ticket:read", own).reason
    assert not engine.check(mark, "ticket:read", other)
    assert "not a member" in engine.check(Principal(MARK), "ticket:read", own).reason
    assert "unknown permission" in engine.check(mark, "ticket:fly", other).reason


def test_authorize_hides_what_cannot_be_read() -> None:
    engine = default_engine()
    mark = Principal(MARK, {GLOBEX: "customer"})
    own = Resource("ticket", GLOBEX, ObjectId(), {"creator": MARK})
    other = Resource("ticket", GLOBEX, ObjectId(), {"creator": ObjectId()})
    with pytest.raises(Forbidden) as forbidden:
        engine.authorize(mark, "ticket:delete", own)
    assert forbidden.value.extra == {"permission": "ticket:delete"}
    with pytest.raises(NotFound):
        engine.authorize(mark, "ticket:delete", other)


def test_grants_count_only_in_their_company_while_a_member() -> None:
    engine = default_engine()
    ticket = ObjectId()
    shared = Resource("ticket", ACME, ticket, {"creator": ObjectId()})
    viewer = Principal(
        MARK, {ACME: "customer"}, {ticket: GrantFact("ticket", ACME, frozenset({"viewer"}))}
    )
    assert engine.check(viewer, "ticket:read", shared)
    assert engine.check(viewer, "ticket:reply", shared)
    assert not engine.check(viewer, "ticket:note", shared)
    assert not engine.sees_internal_notes(viewer, shared)
    removed = Principal(MARK, {}, viewer.grants)
    assert not engine.check(removed, "ticket:read", shared)
    elsewhere = Principal(
        MARK, {ACME: "customer"}, {ticket: GrantFact("ticket", GLOBEX, frozenset({"viewer"}))}
    )
    assert not engine.check(elsewhere, "ticket:read", shared)


def test_filters_lead_with_company_and_fail_closed() -> None:
    engine = default_engine()
    ticket = ObjectId()
    mark = Principal(
        MARK,
        {ACME: "agent", GLOBEX: "customer"},
        {ticket: GrantFact("ticket", GLOBEX, frozenset({"viewer"}))},
    )
    flt = engine.query_filter(mark, "ticket:read", "ticket")
    assert flt == {
        "$or": [
            {"company": ACME},
            {"company": GLOBEX, "created_by": MARK},
            {"company": GLOBEX, "_id": ticket},
        ]
    }
    assert engine.query_filter(mark, "ticket:delete", "ticket") == {"company": {"$in": []}}
    assert engine.query_filter(Principal(MARK), "ticket:read", "ticket") == {"company": {"$in": []}}


def test_bulk_check_matches_check() -> None:
    engine: Engine = default_engine()
    mark = Principal(MARK, {ACME: "agent", GLOBEX: "customer"})
    requests = [
        (p, Resource("ticket", c, ObjectId(), {"creator": u}))
        for p in ("ticket:read", "ticket:delete")
        for c in (ACME, GLOBEX, ObjectId())
        for u in (MARK, ObjectId())
    ]
    bulk = engine.bulk_check(mark, requests)
    assert [d.allowed for d in bulk] == [engine.check(mark, p, r).allowed for p, r in requests]
    assert any(d.allowed for d in bulk)
    assert not all(d.allowed for d in bulk)


def test_permission_graph() -> None:
    ticket = ObjectId()
    mark = Principal(
        MARK, {ACME: "agent"}, {ticket: GrantFact("ticket", ACME, frozenset({"viewer"}))}
    )
    graph = default_engine().permissions(mark)
    assert graph["companies"][str(ACME)]["roles"] == ["agent"]
    assert graph["resources"][str(ticket)]["roles"] == ["ticket#viewer"]
    assert graph["derived"] == [
        {
            "role": "ticket#viewer",
            "relation": "creator",
            "permissions": ["ticket:read", "ticket:reply"],
        }
    ]
    assert default_engine().permissions(mark, [GLOBEX])["companies"] == {}


def test_conjoin_flattens_only_disjoint_clauses() -> None:
    from authz.listing import conjoin

    assert conjoin({"company": ACME}, None, {"status": "open"}) == {
        "company": ACME,
        "status": "open",
    }
    ors = {"$or": [{"company": ACME}, {"company": GLOBEX}]}
    q = {"$or": [{"subject": "x"}, {"description": "x"}], "status": "open"}
    assert conjoin(ors, q) == {"$and": [ors, q]}
    assert conjoin({"company": ACME}, {"company": GLOBEX}) == {
        "$and": [{"company": ACME}, {"company": GLOBEX}]
    }
    assert conjoin({"company": ACME}, {"company": ACME, "status": "open"}) == {
        "company": ACME,
        "status": "open",
    }
    assert conjoin() == {}


def test_at_most_orders_roles_and_levels() -> None:
    engine = default_engine()
    assert engine.at_most("agent", None, "admin", None)
    assert not engine.at_most("admin", None, "agent", None)
    assert engine.at_most("agent", "groups", "agent", None)
    assert engine.at_most("agent", "assigned", "agent", "groups")
    assert not engine.at_most("agent", "groups", "agent", "assigned")
    assert engine.at_most("customer", None, "agent", "assigned")
    assert engine.at_most("agent", "all", "agent", None), "all is the default"
