"""Ticket writes: numbering, field rules, replies and sharing."""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.services.tenancy import company_resource
from authz.engine import Decision
from authz.errors import Conflict, Forbidden, InvalidInput, NotFound
from authz.scope import Scope
from models import Company, Grant, Membership, Priority, Reply, Ticket, utcnow


async def next_number(company_id: ObjectId) -> int:
    """Hand out the company's next ticket number: one atomic `$inc` of its counter.

    Deliberately outside any transaction: every ticket of a company writes this one
    document, and in transactions they would conflict and retry. A ticket whose insert
    fails after this leaves a gap in the numbers, never a duplicate (the unique
    (company, number) index would refuse one).
    """
    doc = await Company.get_pymongo_collection().find_one_and_update(
        {"_id": company_id, "deleting": {"$ne": True}},
        {"$inc": {"ticket_seq": 1}},
        projection={"ticket_seq": 1, "_id": 0},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise NotFound("company not found")
    return int(doc["ticket_seq"])


async def create_ticket(
    scope: Scope, company_id: ObjectId, subject: str, description: str, priority: Priority
) -> dict[str, Any]:
    """Open a ticket in a company the caller belongs to, with the company's next number."""
    resource = company_resource(company_id)
    decision = scope.authorize("ticket:create", resource)
    ticket = Ticket(
        company=company_id,
        number=await next_number(company_id),
        subject=subject,
        description=description,
        priority=priority,
        created_by=scope.user_id,
    )
    await ticket.insert()
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
        raise InvalidInput("name at least one field to change", loc=("body",))
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
            raise InvalidInput(f"{name} cannot be null", loc=("body", name))
    if changes.get("assigned_to") is not None:
        assignee = ObjectId(changes["assigned_to"])
        member = await Membership.get_pymongo_collection().find_one(
            {"company": resource.company, "user": assignee}, {"role": 1}
        )
        if member is None or not scope.engine.is_assignable(member["role"]):
            raise InvalidInput(
                "assigned_to must be an admin or agent of the ticket's company",
                loc=("body", "assigned_to"),
            )
        changes["assigned_to"] = assignee
    return await scope.update(
        resource, "ticket:update", {"$set": {**changes, "updated_at": utcnow()}}
    )


async def delete_ticket(db: Database, scope: Scope, ticket_id: ObjectId) -> None:
    """Delete a ticket and the grants that pointed at it (both or neither)."""
    doc = await scope.get("ticket", ticket_id, "ticket:delete")
    resource = scope.engine.resource_of("ticket", doc)

    async def steps(unit: Unit) -> Decision:
        deleted, decision = await scope.delete(resource, "ticket:delete", session=unit.session)
        unit.on_failure(lambda: Ticket.get_pymongo_collection().insert_one(deleted))
        await Grant.get_pymongo_collection().delete_many(
            {"resource_id": ticket_id}, session=unit.session
        )
        return decision

    scope.record_write("ticket:delete", resource, await atomic(db, steps))


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
        raise InvalidInput(
            "a ticket can only be shared with a member of its company", loc=("body", "user_id")
        )
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
