"""Ticket writes: numbering, field rules, replies and sharing."""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.services.tenancy import company_resource
from authz.errors import Conflict, Forbidden, InvalidInput, NotFound
from authz.scope import Scope
from models import Company, Grant, Membership, Priority, Reply, Ticket, document_lock, utcnow

# Bounds the retries of a number taken in parallel (see `create_ticket`); a burst of a few
# hundred simultaneous tickets in one company stays well inside it.
NUMBER_ATTEMPTS = 100


async def next_number(company_id: ObjectId) -> int:
    """Hand out the company's next ticket number: one `$inc` (see `create_ticket`)."""
    async with document_lock(company_id):
        doc = await Company.get_pymongo_collection().find_one_and_update(
            {"_id": company_id, "deleting": {"$ne": True}},
            {"$inc": {"ticket_seq": 1}},
            return_document=ReturnDocument.AFTER,  # no projection: FerretDB v1 refuses `fields`
        )
    if doc is None:
        raise NotFound("company not found")
    return int(doc["ticket_seq"])


async def create_ticket(
    scope: Scope, company_id: ObjectId, subject: str, description: str, priority: Priority
) -> dict[str, Any]:
    """Open a ticket in a company the caller belongs to.

    The unique (company, number) index is what makes a number the ticket's. On MongoDB the
    `$inc` of `next_number` never hands one out twice, so the first insert succeeds. FerretDB
    v1 applies updates as read-modify-write, so parallel increments can return the same
    number (never skip one): the loser of the insert takes the next number, and the numbers
    stay unique and gap-free.
    """
    resource = company_resource(company_id)
    decision = scope.authorize("ticket:create", resource)
    for _ in range(NUMBER_ATTEMPTS):
        ticket = Ticket(
            company=company_id,
            number=await next_number(company_id),
            subject=subject,
            description=description,
            priority=priority,
            created_by=scope.user_id,
        )
        try:
            await ticket.insert()
            break
        except DuplicateKeyError:
            continue
    else:
        raise Conflict("too many tickets are being opened at once in this company; retry")
    doc: dict[str, Any] = ticket.model_dump(by_alias=True)
    scope.record_write("ticket:create", scope.engine.resource_of("ticket", doc), decision)
    return doc


async def update_ticket(
    scope: Scope, ticket_id: ObjectId, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply the whitelisted `changes`; fields outside the caller's role are 403."""
    doc = await scope.get("ticket", ticket_id, "ticket:update")
    resource = scope.engine.resource_of("ticket", doc)
    if not changes:
        raise InvalidInput("name at least one field to change")
    writable = scope.engine.writable_fields(scope.principal, resource)
    refused = sorted(set(changes) - writable)
    if refused:
        role = scope.principal.roles.get(resource.company)
        raise Forbidden(
            f"role '{role}' in company {resource.company} lacks ticket:update on "
            f"{', '.join(refused)} (it may change: {', '.join(sorted(writable)) or 'nothing'})",
            permission="ticket:update",
            fields=refused,
        )
    for name, value in changes.items():
        if value is None and name != "assigned_to":
            raise InvalidInput(f"{name} cannot be null")
    if changes.get("assigned_to") is not None:
        assignee = ObjectId(changes["assigned_to"])
        member = await Membership.get_pymongo_collection().find_one(
            {"company": resource.company, "user": assignee}, {"role": 1}
        )
        if member is None or not scope.engine.is_assignable(member["role"]):
            raise InvalidInput("assigned_to must be an admin or agent of the ticket's company")
        changes["assigned_to"] = assignee
    return await scope.update(
        resource, "ticket:update", {"$set": {**changes, "updated_at": utcnow()}}
    )


async def delete_ticket(scope: Scope, ticket_id: ObjectId) -> None:
    """Delete a ticket and the grants that pointed at it."""
    doc = await scope.get("ticket", ticket_id, "ticket:delete")
    await scope.delete(scope.engine.resource_of("ticket", doc), "ticket:delete")
    await Grant.get_pymongo_collection().delete_many({"resource_id": ticket_id})


async def add_reply(scope: Scope, ticket_id: ObjectId, body: str, internal: bool) -> Reply:
    """Post a public reply (ticket:reply) or an internal note (ticket:note)."""
    permission = "ticket:note" if internal else "ticket:reply"
    doc = await scope.get("ticket", ticket_id, permission)
    reply = Reply(author=scope.user_id, body=body, internal=internal)
    await scope.update(
        scope.engine.resource_of("ticket", doc),
        permission,
        {"$push": {"replies": reply.model_dump()}, "$set": {"updated_at": reply.created_at}},
    )
    return reply


async def share(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Grant `ticket#viewer` to another member of the ticket's company."""
    doc = await scope.get("ticket", ticket_id, "ticket:share")
    resource = scope.engine.resource_of("ticket", doc)
    decision = scope.authorize("ticket:share", resource)
    member = await Membership.get_pymongo_collection().find_one(
        {"company": resource.company, "user": user_id}, {"_id": 1}
    )
    if member is None:
        raise InvalidInput("a ticket can only be shared with a member of its company")
    try:
        await Grant(
            user=user_id,
            role="viewer",
            resource_type="ticket",
            resource_id=ticket_id,
            company=resource.company,
            created_by=scope.user_id,
        ).insert()
    except DuplicateKeyError as exc:
        raise Conflict("the ticket is already shared with this user") from exc
    scope.record_write("ticket:share", resource, decision)


async def unshare(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Revoke a stored viewer grant."""
    doc = await scope.get("ticket", ticket_id, "ticket:share")
    resource = scope.engine.resource_of("ticket", doc)
    decision = scope.authorize("ticket:share", resource)
    result = await Grant.get_pymongo_collection().delete_one(
        {"resource_id": ticket_id, "user": user_id, "role": "viewer", "resource_type": "ticket"}
    )
    if result.deleted_count == 0:
        raise NotFound("this user has no viewer grant on the ticket")
    scope.record_write("ticket:share", resource, decision)
