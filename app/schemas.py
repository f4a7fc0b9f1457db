"""Request and response bodies. Stored documents are never exposed directly.

Every request model forbids unknown fields (a body cannot smuggle `company_id` or
`created_by` into a write) and bounds every string and list.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from models import Priority, Role, Status

ObjectIdStr = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{24}$", min_length=24, max_length=24)
]
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(str.lower)]
Password = Annotated[str, Field(min_length=10, max_length=256)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# -- auth ------------------------------------------------------------------------------------


class RegisterIn(Input):
    """A new account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "lisa", "email": "lisa@acme.example", "password": "demo-pass-2026"}
            ]
        }
    )
    username: Username
    email: Email
    password: Password


class LoginIn(Input):
    """Credentials for a token."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "lisa@acme.example", "password": "demo-pass-2026"}]
        }
    )
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenForm(BaseModel):
    """OAuth2's password-grant form (what /docs' "Authorize" posts), every field bounded.

    FastAPI's own `OAuth2PasswordRequestForm` leaves its strings unbounded. Extra fields are
    ignored rather than refused: OAuth2 clients add their own.
    """

    grant_type: Annotated[str | None, Field(pattern="^password$", max_length=8)] = None
    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[
        str, Field(min_length=1, max_length=256, json_schema_extra={"format": "password"})
    ]
    scope: Annotated[str, Field(max_length=200)] = ""
    client_id: Annotated[str | None, Field(max_length=200)] = None
    client_secret: Annotated[
        str | None, Field(max_length=200, json_schema_extra={"format": "password"})
    ] = None


class UserOut(BaseModel):
    """A user as others see them."""

    id: str
    username: str
    email: str


class TokenOut(BaseModel):
    """An access token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MembershipOut(BaseModel):
    """One of the caller's memberships."""

    company_id: str
    company_name: str
    role: Role


class MeOut(UserOut):
    """The caller and their memberships."""

    memberships: list[MembershipOut]


# -- companies and members -------------------------------------------------------------------


class CompanyIn(Input):
    """A new company (tenant)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Initech"}]})
    name: Name


class CompanyUpdate(Input):
    """A company's changeable fields."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Acme Corporation"}]})

    name: Name


class CompanyOut(BaseModel):
    """A company with the caller's role in it."""

    id: str
    name: str
    role: Role


class MemberIn(Input):
    """Add a member by email or by user id (exactly one)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "david@globex.example", "role": "customer"}]}
    )
    email: Email | None = None
    user_id: ObjectIdStr | None = None
    role: Role


class MemberUpdate(Input):
    """A member's new role."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "agent"}]})
    role: Role


class MemberOut(BaseModel):
    """A member of a company."""

    user_id: str
    username: str
    email: str
    role: Role


# -- tickets ---------------------------------------------------------------------------------


class TicketIn(Input):
    """A new ticket."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "company_id": "65f000000000000000000001",
                    "subject": "Invoice shows the wrong VAT",
                    "description": "Invoice 2026-114 charges 25% VAT; we are VAT-exempt.",
                    "priority": "high",
                }
            ]
        }
    )
    company_id: ObjectIdStr
    subject: Subject
    description: Text
    priority: Priority = Priority.NORMAL


class TicketUpdate(Input):
    """Fields a PATCH may change; which ones the caller may change depends on their role.

    `company_id`, `created_by`, `number` and `created_at` are not fields here: naming them
    is an unknown field, refused with 422.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "in-progress"}]})
    subject: Subject | None = None
    description: Text | None = None
    status: Status | None = None
    priority: Priority | None = None
    assigned_to: ObjectIdStr | None = None


class ReplyIn(Input):
    """A reply, or an internal note when `internal` is true."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"body": "Thanks, we are looking into it.", "internal": False}]
        }
    )
    body: Text
    internal: bool = False


class ReplyOut(BaseModel):
    """A reply on a ticket."""

    id: str
    author: str
    body: str
    internal: bool
    created_at: datetime


class TicketOut(BaseModel):
    """A ticket, with the replies the caller may see."""

    id: str
    company_id: str
    number: int
    subject: str
    description: str
    status: Status
    priority: Priority
    created_by: str
    assigned_to: str | None
    replies: list[ReplyOut]
    created_at: datetime
    updated_at: datetime


class TicketPage(BaseModel):
    """A page of tickets; follow `next_cursor` until it is null."""

    items: list[TicketOut]
    next_cursor: str | None


class ViewerIn(Input):
    """Share a ticket with another member of its company."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "65f000000000000000000003"}]}
    )

    user_id: ObjectIdStr


class ViewerOut(BaseModel):
    """A stored viewer grant."""

    ticket_id: str
    user_id: str
    role: str


# -- authz -----------------------------------------------------------------------------------


class CheckIn(Input):
    """One question for the engine."""

    action: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z_-]+$")]
    resource_type: Literal["company", "members", "ticket", "audit"]
    resource_id: ObjectIdStr | None = None
    company_id: ObjectIdStr | None = None


class CheckBatchIn(Input):
    """Up to 100 questions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "checks": [
                        {
                            "action": "delete",
                            "resource_type": "ticket",
                            "resource_id": "65f000000000000000000002",
                        }
                    ]
                }
            ]
        }
    )
    checks: Annotated[list[CheckIn], Field(min_length=1, max_length=100)]


class CheckOut(BaseModel):
    """One answer per question, in order, with the engine's reasons."""

    results: list[bool]
    reasons: list[str]
    fields: list[list[str] | None] = Field(
        description="Per question: for an allowed `ticket:update`, the ticket fields the "
        "caller may change; otherwise null"
    )


class PermissionGraph(BaseModel):
    """The caller's permission graph."""

    user_id: str
    companies: dict[str, dict[str, list[str]]]
    resources: dict[str, dict[str, Any]]
    derived: list[dict[str, Any]]


class AuditOut(BaseModel):
    """One audit event."""

    id: str
    time: datetime
    user_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    allowed: bool
    reason: str


class AuditPage(BaseModel):
    """A page of audit events, newest first."""

    items: list[AuditOut]
    next_cursor: str | None
