"""Loads a caller's facts (memberships, grants) from the database: two queries, in parallel."""

import asyncio
from typing import Any

from bson import ObjectId

from authz.engine import GrantFact, Principal
from models import Grant, Membership


async def load_principal(user_id: ObjectId) -> Principal:
    """Build the `Principal` of `user_id` from its memberships and grants.

    Grants in companies where the user is no longer a member are dropped here as well as
    deleted on removal: a leftover grant must never outlive the membership.
    """
    memberships_q = (
        Membership.get_pymongo_collection()
        .find({"user": user_id}, {"company": 1, "role": 1, "_id": 0})
        .to_list()
    )
    grants_q = (
        Grant.get_pymongo_collection()
        .find(
            {"user": user_id},
            {"resource_type": 1, "resource_id": 1, "company": 1, "role": 1, "_id": 0},
        )
        .to_list()
    )
    memberships, grants = await asyncio.gather(memberships_q, grants_q)
    roles = {m["company"]: m["role"] for m in memberships}
    by_resource: dict[ObjectId, dict[str, Any]] = {}
    for g in grants:
        if g["company"] not in roles:
            continue
        entry = by_resource.setdefault(
            g["resource_id"], {"type": g["resource_type"], "company": g["company"], "roles": set()}
        )
        entry["roles"].add(g["role"])
    facts = {
        rid: GrantFact(e["type"], e["company"], frozenset(e["roles"]))
        for rid, e in by_resource.items()
    }
    return Principal(user_id=user_id, roles=roles, grants=facts)
