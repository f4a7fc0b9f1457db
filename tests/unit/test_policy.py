"""The policy file: validated at start, and the engine's decisions explain themselves."""

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from authz.engine import Engine, Principal, Resource, ResourceRoles, default_engine
from authz.errors import Forbidden, InvalidInput, NotFound
from authz.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy

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
        (lambda r: r["resource_types"]["ticket"]["many"].update(watcher=10), "names no relation"),
        (lambda r: r["resource_types"]["ticket"]["many"].update(viewer=0), "greater than 0"),
        (
            lambda r: r["instance_roles"]["ticket#viewer"].update(granted_as="creator"),
            "granted_as must name",
        ),
        (
            lambda r: r["instance_roles"]["ticket#viewer"].pop("granted_as"),
            "go together",
        ),
        (
            lambda r: r["instance_roles"]["group#member"].pop("most_per_member"),
            "must declare most_per_member",
        ),
        # conditions: unknown names, values a field cannot take, shapes no filter expresses
        (
            lambda r: r["conditions"]["resolved"].update(when="stattus != 'resolved'"),
            "no attribute",
        ),
        (lambda r: r["conditions"]["resolved"].update(when="status != 'closed'"), "no value"),
        (lambda r: r["conditions"]["resolved"].update(when="status < 'open'"), "==, != or in"),
        (lambda r: r["conditions"]["resolved"].update(when="status == priority"), "not with"),
        (lambda r: r["conditions"]["resolved"].update(when="status == 'open' or"), "expected"),
        (lambda r: r["conditions"]["resolved"].update(when="created_at > 'x'"), "with now"),
        (lambda r: r["conditions"]["resolved"].update(when="assignee > caller"), "== or !="),
        (lambda r: r["conditions"]["resolved"].update(when="viewer == null"), "many users"),
        (lambda r: r["conditions"]["resolved"].update(when="caller.role == 'boss'"), "one of"),
        (lambda r: r["conditions"]["confidential"].update(when="new.status == 'open'"), "`new.`"),
        (lambda r: r["conditions"]["confidential"].update(roles=["owner"]), "no role"),
        (
            lambda r: r["conditions"]["resolved"].update(
                when=" and ".join(["(status == 'open' or priority == 'low')"] * 7)
            ),
            "need 128 branches for it, more than 64",
        ),
        (lambda r: r["conditions"]["resolved"].update(fields=["number"]), "may only name"),
        (
            lambda r: r["conditions"]["confidential"].update(permissions=["ticket:create"]),
            "before the ticket exists",
        ),
        (
            lambda r: r["conditions"]["confidential"].update(
                permissions=["ticket:read", "group:read"]
            ),
            "of one resource type",
        ),
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


def test_shares_count_only_in_their_company_while_a_member() -> None:
    """A share is the ticket's `viewer` relation naming the user, read from the ticket."""
    engine = default_engine()
    shared = Resource("ticket", ACME, ObjectId(), {"creator": ObjectId(), "viewer": [MARK]})
    viewer = Principal(MARK, {ACME: "customer"})
    assert engine.check(viewer, "ticket:read", shared)
    assert "as viewer of ticket" in engine.check(viewer, "ticket:read", shared).reason
    assert engine.check(viewer, "ticket:reply", shared)
    assert not engine.check(viewer, "ticket:note", shared)
    assert not engine.sees_internal_notes(viewer, shared)
    assert not engine.check(Principal(MARK, {}), "ticket:read", shared)
    elsewhere = Resource("ticket", GLOBEX, ObjectId(), {"viewer": [MARK]})
    assert not engine.check(viewer, "ticket:read", elsewhere)
    others = Resource("ticket", ACME, ObjectId(), {"viewer": [ObjectId()]})
    assert not engine.check(viewer, "ticket:read", others)


def test_filters_lead_with_company_and_fail_closed() -> None:
    """However many tickets are shared with Mark, his filter names none of them; branches
    that differ only by company are one; the confidential condition is a branch of its
    own (his role reads a confidential ticket only while it is assigned to him)."""
    engine = default_engine()
    mark = Principal(MARK, {ACME: "agent", GLOBEX: "customer"})
    flt = engine.query_filter(mark, "ticket:read", "ticket")
    both = {"$in": [ACME, GLOBEX]}
    assert flt == {
        "$or": [
            {"company": ACME, "confidential": {"$ne": True}},
            {"company": ACME, "assigned_to": MARK},
            {"company": both, "created_by": MARK},
            {"company": both, "viewers": MARK},
        ]
    }
    sara = Principal(MARK, {ACME: "admin", GLOBEX: "customer"})
    assert engine.query_filter(sara, "ticket:read", "ticket") == {
        "$or": [
            {"company": ACME},
            {"company": GLOBEX, "created_by": MARK},
            {"company": GLOBEX, "viewers": MARK},
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
    """Shares are described as the relation they are, never listed; the roles held on
    groups are listed, up to a limit past which the graph is refused, not cut."""
    group = ObjectId()
    mark = Principal(
        MARK, {ACME: "agent"}, {group: ResourceRoles("group", ACME, frozenset({"member"}))}
    )
    graph = default_engine().permissions(mark)
    assert graph["companies"][str(ACME)]["roles"] == ["agent"]
    assert graph["resources"] == {
        str(group): {
            "resource_type": "group",
            "company_id": str(ACME),
            "roles": ["group#member"],
            "permissions": ["group:read"],
        }
    }
    viewer = {
        "role": "ticket#viewer",
        "relation": "viewer",
        "holds_on": "every ticket whose viewer relation names you",
        "permissions": ["ticket:read", "ticket:reply"],
    }
    assert viewer in graph["derived"]
    assert {"creator", "viewer", "member"} == {d["relation"] for d in graph["derived"]}
    assert default_engine().permissions(mark, [GLOBEX])["companies"] == {}
    assert default_engine().permissions(mark, [GLOBEX])["resources"] == {}
    with pytest.raises(InvalidInput, match="more than 0 resources"):
        default_engine().permissions(mark, limit=0)


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


def test_a_condition_error_names_its_line(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text().replace("status != 'resolved'", "status != 'resolvd'")
    path = tmp_path / "policy.toml"
    path.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "'resolvd'" in ln)
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value).startswith(f"line {line}: conditions.resolved.when: at column 11")
    assert "status has no value 'resolvd' (it may be: open, in-progress, resolved)" in str(
        refused.value
    )
