"""Batched look-ups that join names onto ids in the application (FerretDB has no $lookup)."""

from typing import Any

from bson import ObjectId

from models import Company, User


async def users_by_id(ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    """Public fields of the given users, by id, in one `$in` query."""
    docs = (
        await User.get_pymongo_collection()
        .find({"_id": {"$in": ids}}, {"username": 1, "email": 1})
        .to_list()
    )
    return {d["_id"]: d for d in docs}


async def live_companies(ids: list[ObjectId]) -> dict[ObjectId, str]:
    """Names of the given companies that exist and are not being deleted."""
    docs = (
        await Company.get_pymongo_collection()
        .find({"_id": {"$in": ids}, "deleting": {"$ne": True}}, {"name": 1})
        .to_list()
    )
    return {d["_id"]: d["name"] for d in docs}
