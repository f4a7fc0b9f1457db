"""A caller's facts (tenant roles, the instance roles an access level reaches through) as the
engine's `Principal`.

They come with the user document, which authenticating a request reads anyway
(`models.user.Access`): building the principal costs no round trip of its own, and its
size follows the caller's memberships, never what was shared with them.
"""

from bson import ObjectId

from authz.engine import Principal, ResourceRoles
from models import User
from models.user import Access


def principal_of(user_id: ObjectId, access: Access) -> Principal:
    """The `Principal` of a user from the facts kept with them.

    Roles held in companies where the user is not a member are dropped: an instance role
    never outlives the membership it was given under.
    """
    roles: dict[ObjectId, str] = {m.company: m.role for m in access.memberships}
    by_resource: dict[ObjectId, tuple[str, ObjectId, set[str]]] = {}
    for held in access.resource_roles:
        if held.company in roles:
            entry = by_resource.setdefault(
                held.resource_id, (held.resource_type, held.company, set())
            )
            entry[2].add(held.role)
    resource_roles = {
        rid: ResourceRoles(rtype, company, frozenset(names))
        for rid, (rtype, company, names) in by_resource.items()
    }
    levels: dict[ObjectId, str] = {
        m.company: m.level for m in access.memberships if m.level is not None
    }
    return Principal(user_id=user_id, roles=roles, resource_roles=resource_roles, levels=levels)


async def load_principal(user_id: ObjectId) -> Principal:
    """The `Principal` of `user_id`, read from its user document (no user: no rights)."""
    doc = await User.get_pymongo_collection().find_one({"_id": user_id}, {"access": 1})
    access = Access.model_validate(doc.get("access", {})) if doc else Access()
    return principal_of(user_id, access)
