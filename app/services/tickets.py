"""Ticket writes: numbering, field rules, replies and sharing."""

from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from app.services.companies import company_resource
from app.services.groups import group_of_company
from authz.engine import Resource
from authz.errors import Conflict, InvalidInput, NotFound
from authz.facts import load_principal
from authz.scope import Scope
from models import Company, Membership, Priority, Reply, Ticket

SHARE = "ticket:share"  # the permission whose instance role (ticket#viewer) a share gives
# The fields a PATCH may set to null (out of any group, unassigned).
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


async def create_ticket(scope: Scope, company_id: ObjectId, given: Mapping[str, Any]) -> Ticket:
    """Open a ticket in a company the caller belongs to, with the company's next number.

    `given` holds the fields the request names (the API's names). Which of them the caller
    may set, and with which values (only admins mark a ticket confidential, or urgent), is
    the policy's to say: `Scope.authorize_write` on the ticket as it would be created.
    """
    decision = scope.authorize("ticket:create", company_resource(company_id))
    group_id = given.get("group_id")
    if group_id is not None:
        await group_of_company(company_id, group_id)
    ticket = Ticket(
        company=company_id,
        number=0,
        subject=given["subject"],
        description=given["description"],
        priority=given.get("priority", Priority.NORMAL),
        confidential=given.get("confidential", False),
        created_by=scope.user_id,
        group=group_id,
    )
    new = scope.resource_of(ticket)
    scope.authorize_write(new, given, creating=True)
    ticket.number = await next_number(company_id)
    await ticket.insert()
    scope.record(scope.resource_of(ticket), decision)
    return ticket


async def update_ticket(scope: Scope, ticket_id: ObjectId, changes: dict[str, Any]) -> Ticket:
    """Apply `changes` (the API's field names): the policy decides which fields the caller
    may set on this ticket, with which values (403 naming them and why); a group must be
    the company's (422), an assignee its staff (422) and, for a ticket in a group, able to
    handle it (409)."""
    target = await scope.get(Ticket, ticket_id, "ticket:update")
    if not changes:
        raise InvalidInput("name at least one field to change", loc=("body",))
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise InvalidInput(f"{name} cannot be null", loc=("body", name))
    scope.authorize_write(target.resource, changes)
    company = target.resource.company
    if changes.get("group_id") is not None:
        await group_of_company(company, changes["group_id"])
    assignee = changes.get("assigned_to", target.doc.assigned_to)
    if assignee is not None and ("assigned_to" in changes or "group_id" in changes):
        after = scope.engine.after(target.resource, changes)
        await _may_hold(scope, after, assignee, moved="assigned_to" not in changes)
    ticket = await scope.update(target, changes)
    scope.record(target.resource, target.decision)
    return ticket


async def _may_hold(scope: Scope, ticket: Resource, assignee: ObjectId, moved: bool) -> None:
    """An assignee is staff of the ticket's company (422), and may hold the ticket as it
    will be (409, the policy's `assigned_within`: for a ticket in a group, a member of it
    unless their ticket access is not limited). `moved`: the ticket keeps its assignee and
    changes group."""
    company = ticket.company
    member = await Membership.find_one(Membership.company == company, Membership.user == assignee)
    if member is None or not scope.engine.is_assignable(member.role):
        raise InvalidInput(
            "assigned_to must be an admin or agent of the ticket's company",
            loc=("body", "assigned_to"),
        )
    decision = scope.engine.may_be_assigned(await load_principal(assignee), ticket)
    if not decision.allowed:
        fix = " (or unassign the ticket in the same request)" if moved else ""
        raise Conflict(f"{decision.reason}{fix}")


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
    await scope.push(target, "replies", reply.model_dump())
    scope.record(target.resource, target.decision)
    return reply


async def share(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Grant `ticket#viewer` to another member of the ticket's company: one atomic write of
    the ticket's `viewers`, which never touches the receiver's own documents (409 if they
    have it already, or when the ticket is shared with as many members as the policy
    allows)."""
    target = await scope.get(Ticket, ticket_id, SHARE)
    company = target.resource.company
    relation = shared_as(scope)
    await _member_of(company, user_id)
    if not await scope.add_holder(target, relation, user_id):
        raise Conflict("the ticket is already shared with this user")
    try:
        # Removing the member takes them out of every ticket after their membership is
        # gone: a share that landed after that removal is taken back.
        await _member_of(company, user_id)
    except InvalidInput:
        await scope.remove_holder(target, relation, user_id)
        raise
    scope.record(target.resource, target.decision)


async def _member_of(company: ObjectId, user_id: ObjectId) -> None:
    if await Membership.find_one(Membership.company == company, Membership.user == user_id) is None:
        raise InvalidInput(
            "a ticket can only be shared with a member of its company", loc=("body", "user_id")
        )


async def unshare(scope: Scope, ticket_id: ObjectId, user_id: ObjectId) -> None:
    """Stop sharing a ticket with a member (one atomic write of its `viewers`)."""
    target = await scope.get(Ticket, ticket_id, SHARE)
    if not await scope.remove_holder(target, shared_as(scope), user_id):
        raise NotFound("this ticket is not shared with this user")
    scope.record(target.resource, target.decision)


def shared_as(scope: Scope) -> str:
    """The ticket's relation a share adds the user to (the policy's `granted_as` of the
    instance role `ticket:share` gives)."""
    relation = scope.engine.role_granted_with(SHARE).granted_as
    assert relation is not None  # noqa: S101 - the policy pairs granted_with with granted_as
    return relation
