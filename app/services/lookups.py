"""Reads several routers share."""

from bson import ObjectId

from models import LIVE_COMPANY, Company


async def live_companies(ids: list[ObjectId]) -> dict[ObjectId, str]:
    """Names of the given companies that exist and are not being deleted."""
    docs = (
        await Company.get_pymongo_collection()
        .find({"_id": {"$in": ids}, **LIVE_COMPANY}, {"name": 1})
        .to_list()
    )
    return {d["_id"]: d["name"] for d in docs}
