"""Ticket writes: numbering, field rules, replies and sharing."""

from dataclasses import replace
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from app.services.companies import company_resource
from app.services.groups import group_of_company
from authz.engine import Resource
from authz.errors import Conflict, Forbidden, InvalidInput, NotFound
from authz.facts import load_principal
from authz.scope import Authorized, Scope
from models import Company, Membership, Priority, Reply, Ticket, touched

VIEWER = "viewer"  # the ticket's relation whose holders have `ticket#viewer` (authz/policy.toml)
# API field -> stored field, where they differ; and the fields a PATCH may set to null.
STORED = {"group_id": "group"}
NULLABLE = {"assigned_to", "group_id"}


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
    scope: Scope,
    company_id: ObjectId,
    subject: str,
    description: str,
    priority: Priority,
    group_id: ObjectId | None = None,
) -> Ticket:
    """Open a ticket in a company the caller belongs to, with the company's next number;
    staff may put it in one of the company's groups at once."""
    resource = company_resource(company_id)
    decision = scope.authorize("ticket:create", resource)
    if group_id is not None:
        await _may_open_in(scope, company_id, group_id)
    ticket = Ticket(
        company=company_id,
        number=await next_number(company_id),
        subject=subject,
        description=description,
        priority=priority,
        created_by=scope.user_id,
        group=group_id,
    )
    await ticket.insert()
    scope.record(scope.engine.resource_of("ticket", ticket.model_dump(by_alias=True)), decision)
    return ticket


async def _may_open_in(scope: Scope, company_id: ObjectId, group_id: ObjectId) -> None:
    """Staff may open a ticket in a group of the company; an agent scoped to groups, only in
    one of theirs (as they may move one only into theirs)."""
    role = scope.principal.roles[company_id]
    if "group_id" not in scope.engine.policy.roles[role].writable_fields.get("ticket", ()):
        raise Forbidden(
            f"role '{role}' in company {company_id} may not choose a ticket's group",
            permission="ticket:update",
            fields=["group_id"],
        )
    group = await group_of_company(company_id, group_id)
    opened = Resource("ticket", company_id, None, {"group": group.id})
    if scope.engine.parent_scoped(scope.principal, opened) is False:
        raise Forbidden(
            "you may open a ticket only in one of your groups, or in none",
            permission="ticket:update",
            fields=["group_id"],
        )


async def update_ticket(scope: Scope, ticket_id: ObjectId, changes: dict[str, Any]) -> Ticket:
    """Apply the whitelisted `changes`; fields outside the caller's role are 403."""
    target = await scope.get(Ticket, ticket_id, "ticket:update")
    if not changes:
        raise InvalidInput("name at least one field to change", loc=("body",))
    _refuse_unwritable(scope, target, changes)
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise InvalidInput(f"{name} cannot be null", loc=("body", name))
    stored = {STORED.get(name, name): value for name, value in changes.items()}
    if "group_id" in changes:
        stored["group"] = await _movable(scope, target, changes["group_id"])
    if changes.get("assigned_to") is not None:
        after = {**target.resource.relations, "group": stored.get("group", target.doc.group)}
        stored["assigned_to"] = await _assignable(
            scope, target, ObjectId(changes["assigned_to"]), after
        )
    ticket = await scope.update(target, touched({"$set": stored}))
    scope.record(target.resource, target.decision)
    return ticket


def _refuse_unwritable(scope: Scope, target: Authorized[Ticket], changes: dict[str, Any]) -> None:
    writable = scope.engine.writable_fields(scope.principal, target.resource)
    refused = sorted(set(changes) - writable)
    if refused:
        company = target.resource.company
        role = scope.principal.roles.get(company)
        raise Forbidden(
            f"role '{role}' in company {company} lacks ticket:update on "
            f"{', '.join(refused)} (it may change: {', '.join(sorted(writable)) or 'nothing'})",
            permission="ticket:update",
            fields=refused,
        )


async def _movable(
    scope: Scope, target: Authorized[Ticket], group_id: str | None
) -> ObjectId | None:
    """The group a ticket moves to (None: out of any group). An agent scoped to groups may
    move a ticket only into one of their groups, or out of it."""
    if group_id is None:
        return None
    group = await group_of_company(target.resource.company, ObjectId(group_id))
    moved = replace(target.resource, relations={**target.resource.relations, "group": group.id})
    if scope.engine.parent_scoped(scope.principal, moved) is False:
        raise Forbidden(
            "you may move a ticket only into one of your groups, or out of any group",
            permission="ticket:update",
            fields=["group_id"],
        )
    return group.id


async def _assignable(
    scope: Scope, target: Authorized[Ticket], assignee: ObjectId, relations: dict[str, Any]
) -> ObjectId:
    """An assignee must be staff of the ticket's company, and reach the ticket without the
    assignment when their access is scoped to groups (409: it is not in one of theirs)."""
    company = target.resource.company
    member = await Membership.find_one(Membership.company == company, Membership.user == assignee)
    if member is None or not scope.engine.is_assignable(member.role):
        raise InvalidInput(
            "assigned_to must be an admin or agent of the ticket's company",
            loc=("body", "assigned_to"),
        )
    ticket = replace(target.resource, relations={**relations, "assignee": None})
    if scope.engine.parent_scoped(await load_principal(assignee), ticket) is False:
        raise Conflict(
            "the assignee only handles tickets of their groups: put the ticket in one of "
            "their groups first, or give them wider ticket access"
        )
    return assignee


async def delete_ticket(scope: Scope, ticket_id: ObjectId) -> None:
    """Delete a ticket; whom it was shared with goes with it (recorded on the ticket)."""
    target = await scope.get(Ticket, ticket_id, "ticket:delete")
    await scope.delete(target)
    scope.record(target.resource, target.decision)


async def add_reply(scope: Scope, ticket_id: ObjectId, body: str, internal: bool) -> Reply:
    """Post a public reply (ticket:reply) or an internal note (ticket:note)."""
    permission = "ticket:note" if internal else "ticket:reply"
    target = await scope.get(Ticket, ticket_id, permission)
    reply = Reply(author=scope.user_id, body=body, internal=internal)
    await scope.update(target, touched({"$push": {"replies": reply.model_dump()}}))
    scope.record(target.resource, target.decision)
    return reply


async def share(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Grant `ticket#viewer` to another member of the ticket's company: one atomic write of
    the ticket's `viewers`, which never touches the receiver's own documents (409 if they
    have it already, or when the ticket is shared with as many members as the policy
    allows)."""
    target = await scope.get(Ticket, ticket_id, "ticket:share")
    company = target.resource.company
    await _member_of(company, user_id)
    if not await scope.add_holder(target, VIEWER, user_id):
        raise Conflict("the ticket is already shared with this user")
    try:
        # Removing the member takes them out of every ticket after their membership is
        # gone: a share that landed after that removal is taken back.
        await _member_of(company, user_id)
    except InvalidInput:
        await scope.remove_holder(target, VIEWER, user_id)
        raise
    scope.record(target.resource, target.decision)


async def _member_of(company: ObjectId, user_id: ObjectId) -> None:
    if await Membership.find_one(Membership.company == company, Membership.user == user_id) is None:
        raise InvalidInput(
            "a ticket can only be shared with a member of its company", loc=("body", "user_id")
        )


async def unshare(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Stop sharing a ticket with a member (one atomic write of its `viewers`)."""
    target = await scope.get(Ticket, ticket_id, "ticket:share")
    if not await scope.remove_holder(target, VIEWER, user_id):
        raise NotFound("this ticket is not shared with this user")
    scope.record(target.resource, target.decision)
