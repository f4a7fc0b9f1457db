"""Invitations to a company: created, listed and revoked by its admins, accepted by token."""

from typing import Any

from fastapi import APIRouter, Response, status

from app.deps import CallerDep, CompanyId, DatabaseDep, InvitationId, SettingsDep
from app.openapi import error_responses
from app.schemas import (
    InvitationAccept,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    MembershipOut,
)
from app.services import invitations
from models import utcnow

router = APIRouter(tags=["invitations"])


def _out(doc: dict[str, Any]) -> dict[str, Any]:
    accepted_by = doc.get("accepted_by")
    return {
        "id": str(doc["_id"]),
        "company_id": str(doc["company"]),
        "email": doc["email"],
        "role": doc["role"],
        "status": invitations.status_of(doc, utcnow()),
        "created_by": str(doc["created_by"]),
        "created_at": doc["created_at"],
        "expires_at": doc["expires_at"],
        "accepted_by": str(accepted_by) if accepted_by else None,
        "accepted_at": doc.get("accepted_at"),
    }


@router.post(
    "/companies/{company_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    summary="Invite someone",
    responses=error_responses(401, 403, 404, 422),
)
async def create_invitation(
    company_id: CompanyId, body: InvitationIn, caller: CallerDep, settings: SettingsDep
) -> InvitationCreated:
    """Offer a role in the company (admin). The response carries the one-time `token`,
    shown only here: pass it to the invitee, who accepts it once signed in. It expires
    after `INVITATION_DAYS` (7 by default)."""
    doc, token = await invitations.create(
        caller.scope,
        company_id,
        body.email,
        body.role,
        settings.invitation_days,
    )
    return InvitationCreated(**_out(doc), token=token)


@router.get(
    "/companies/{company_id}/invitations",
    response_model=list[InvitationOut],
    summary="List invitations",
    responses=error_responses(401, 403, 404),
)
async def list_invitations(company_id: CompanyId, caller: CallerDep) -> list[InvitationOut]:
    """The company's invitations with their status, newest first (admin); never tokens."""
    docs = await invitations.list_for(caller.scope, company_id)
    return [InvitationOut(**_out(d)) for d in docs]


@router.delete(
    "/companies/{company_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an invitation",
    responses=error_responses(401, 403, 404, 409),
)
async def revoke_invitation(
    company_id: CompanyId, invitation_id: InvitationId, caller: CallerDep
) -> Response:
    """Revoke an invitation that has not been accepted (admin); its token stops working."""
    await invitations.revoke(caller.scope, company_id, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/invitations/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipOut,
    summary="Accept an invitation",
    responses=error_responses(401, 404, 409, 422),
)
async def accept_invitation(
    body: InvitationAccept, caller: CallerDep, db: DatabaseDep
) -> MembershipOut:
    """Join the invitation's company with its role, as the signed-in caller: the token is
    the proof, whatever the caller's address. 404 for a token that is unknown, expired,
    revoked or used; 409 if the caller is already a member."""
    membership, company_name = await invitations.accept(db, caller.scope, body.token)
    return MembershipOut(
        company_id=membership.company,
        company_name=company_name,
        role=membership.role,
        ticket_access=caller.scope.engine.level_of(membership.role, membership.ticket_access),
    )
