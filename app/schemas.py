"""Request and response bodies. Stored documents are never exposed directly.

Every request model forbids unknown fields (a body cannot smuggle `company_id` or
`created_by` into a write) and bounds every string and list.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import email_validator
from bson import ObjectId
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# An access level, a tenant role, a resource type: the names the running app's policy
# declares (authz/policy.toml is the one place they are).
from app.policy_names import (
    LEVELS_BY_ROLE,
    AccessShown,
    ResourceType,
    Role,
    RoleShown,
    TicketAccess,
)
from models import Priority, Status

ObjectIdStr = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{24}$", min_length=24, max_length=24)
]
# An id in a response: stored as an ObjectId, shown as its 24-hex string.
Id = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, ObjectId) else v)]
# An id in a request body that is written as it is: a 24-hex string, validated into an
# ObjectId (so the write stores the id, not its text).
IdIn = Annotated[
    ObjectId,
    PlainValidator(lambda v: ObjectId(_hex_id(v))),
    PlainSerializer(str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": "^[0-9a-f]{24}$", "minLength": 24, "maxLength": 24}
    ),
]


def _hex_id(value: object) -> str:
    if isinstance(value, str) and len(value) == 24 and all(c in "0123456789abcdef" for c in value):
        return value
    raise ValueError("must be a 24-hex id")


def _not_at_special_use_domains() -> str:
    """A `pattern` for what email-validator refuses beyond `format: email`: addresses at
    the special-use domain names of RFC 6761 (`test`, `localhost`, ...), in any case."""
    names = "|".join(
        "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)
        for name in sorted(email_validator.SPECIAL_USE_DOMAIN_NAMES)
    )
    return rf"^(?!.*@(?:[^@]*\.)?(?:{names})$)"


Email = Annotated[
    EmailStr,
    Field(max_length=254, json_schema_extra={"pattern": _not_at_special_use_domains()}),
    AfterValidator(str.lower),
]
Password = Annotated[str, Field(min_length=10, max_length=256)]


# What `str.strip()` removes, as a class of a regular expression: JSON Schema's `\s` is
# not quite the same set (it lacks U+001C-U+001F and U+0085, and has U+FEFF). Every one is
# in the Basic Multilingual Plane.
def _space_class() -> str:
    spaces = [c for c in range(0x10000) if chr(c).isspace()]
    runs: list[list[int]] = []
    for c in spaces:
        if runs and runs[-1][-1] == c - 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return "".join(f"\\u{r[0]:04x}" + (f"-\\u{r[-1]:04x}" if len(r) > 1 else "") for r in runs)


_SPACE = _space_class()


@dataclass(frozen=True)
class Trimmed:
    """A string read without the whitespace around it, described as it is read: at most
    `max_length` characters as sent, and, once trimmed, at least `min_length` of them, all
    in `allowed` (a class of a regular expression) when it is given."""

    max_length: int
    min_length: int = 1
    allowed: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            self._read, core_schema.str_schema(max_length=self.max_length)
        )

    def _read(self, value: str) -> str:
        text = value.strip()
        if len(text) < self.min_length:
            many = "s" * (self.min_length > 1)
            raise PydanticCustomError(
                "string_too_short",
                f"String should have at least {self.min_length} character{many} besides whitespace",
            )
        if self.allowed is not None and not re.fullmatch(f"[{self.allowed}]+", text):
            raise PydanticCustomError(
                "string_pattern_mismatch", f"String should match pattern '^[{self.allowed}]+$'"
            )
        return text

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.allowed is None:
            assert self.min_length == 1  # noqa: S101 - "some character besides whitespace"
            pattern = f"[^{_SPACE}]"
        else:
            pattern = f"^[{_SPACE}]*[{self.allowed}]{{{self.min_length},}}[{_SPACE}]*$"
        return {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": pattern,
        }


Name = Annotated[str, Trimmed(max_length=120)]
Username = Annotated[str, Trimmed(max_length=40, min_length=3, allowed="A-Za-z0-9_.-")]
Subject = Annotated[str, Trimmed(max_length=200)]
Text = Annotated[str, Trimmed(max_length=10_000)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, never ignored.

    Their booleans are `StrictBool`: `true` or `false`, never `0`, `1` or `"yes"`, as the
    document's `boolean` says.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _invalid(message: str) -> PydanticCustomError:
    """A refusal of the whole body, in the app's own words (`type` `invalid`, as the app's
    other 422s), without pydantic's "Value error, " in front."""
    return PydanticCustomError("invalid", message)


T = TypeVar("T")


def _given(value: T | None) -> T:
    if value is None:
        raise _invalid("may be left out, but not null")
    return value


def _not_null_in_schema(schema: JsonSchemaValue) -> None:
    """The field's schema without its `null` branch or `null` default."""
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    schema.pop("default", None)


# A field a body may leave out but not send as null (a PATCH's "no change" is leaving it
# out): the validator refuses null and the schema has no null to offer.
Given = Annotated[T | None, AfterValidator(_given), Field(json_schema_extra=_not_null_in_schema)]


class OneForm(Input):
    """A body given in exactly one of several `forms`, each a set of fields given together;
    null counts as left out. The validator and the document's `oneOf` are made from the
    same `forms`: one branch per form, its fields required and not null, the others' fields
    left out or null."""

    forms: ClassVar[Sequence[tuple[str, ...]]] = ()
    forms_error: ClassVar[str] = ""

    @property
    def form(self) -> tuple[str, ...] | None:
        """The form the body is in (None when it is in none, or in several)."""
        given = {name for form in self.forms for name in form if getattr(self, name) is not None}
        matched = [form for form in self.forms if given == set(form)]
        return matched[0] if len(matched) == 1 else None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.form is None:
            raise _invalid(self.forms_error)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        names = [name for form in cls.forms for name in form]
        target["oneOf"] = [
            {
                "required": list(form),
                "properties": {
                    name: {"not": {"type": "null"}} if name in form else {"type": "null"}
                    for name in names
                },
            }
            for form in cls.forms
        ]
        return schema


class Output(BaseModel):
    """Base of response bodies: built from stored documents by attribute."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


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
    username: Annotated[Email, Field(description="the account's email address")]
    password: Annotated[
        str, Field(min_length=1, max_length=256, json_schema_extra={"format": "password"})
    ]
    scope: Annotated[str, Field(max_length=200)] = ""
    client_id: Annotated[str | None, Field(max_length=200)] = None
    client_secret: Annotated[
        str | None, Field(max_length=200, json_schema_extra={"format": "password"})
    ] = None


class UserOut(Output):
    """A user as others see them."""

    id: Id
    username: str
    email: str


class TokenOut(BaseModel):
    """An access token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MembershipOut(Output):
    """One of the caller's memberships."""

    company_id: Id
    company_name: str
    role: RoleShown
    ticket_access: AccessShown | None


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


class CompanyOut(Output):
    """A company with the caller's role in it."""

    id: Id
    name: str
    role: RoleShown


class MemberIn(OneForm):
    """Add a member by email or by user id (exactly one)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "david@globex.example", "role": "customer"},
                {"user_id": "65f000000000000000000003", "role": "agent"},
            ]
        }
    )
    forms = (("email",), ("user_id",))
    forms_error = "give exactly one of email or user_id"

    email: Email | None = None
    user_id: ObjectIdStr | None = None
    role: Role


class MemberUpdate(Input):
    """A member's new role, and/or how far an agent's ticket permissions reach:
    `all` (every ticket of the company), `groups` (tickets of their groups and those
    assigned to them) or `assigned` (only tickets assigned to them), as far as the (new)
    role allows (the policy's `roles.<role>.access`; null: the role's default)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "agent"}, {"ticket_access": "groups"}],
            "minProperties": 1,
            LEVELS_BY_ROLE: True,
        }
    )

    role: Role | None = None
    ticket_access: TicketAccess | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise _invalid("give role, ticket_access, or both")
        return self


class MemberOut(Output):
    """A member of a company."""

    user_id: Id
    username: str
    email: str
    role: RoleShown
    ticket_access: AccessShown | None


# -- invitations and the identity provider --------------------------------------------------


class InvitationIn(Input):
    """Offer a role in the company to someone, who may not have an account yet."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "nina@initech.example", "role": "agent"}]}
    )
    email: Email
    role: Role


InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class InvitationOut(BaseModel):
    """An invitation as its company's admins see it (never its token)."""

    id: str
    company_id: str
    email: str
    role: RoleShown
    status: InvitationStatus
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_by: str | None
    accepted_at: datetime | None


class InvitationCreated(InvitationOut):
    """A new invitation with its one-time token: shown this once, stored only as a hash."""

    token: str


class InvitationAccept(Input):
    """The token of an invitation, as its creator passed it on."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "mYk1J1n3vQ4l0ZyDk0m8cL2b9T3xWq7eA5sU6rP0oIg"}]}
    )
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WebhookOut(BaseModel):
    """What a webhook delivery did: `created` or `already_synced` the account, `replayed`
    (this very delivery was processed before: nothing done), `ignored` (not a sign-up), or
    `test` (a sample from the Logto console: verified, nothing done)."""

    status: Literal["created", "already_synced", "replayed", "ignored", "test"]
    event: str
    user_id: str | None = None


# -- groups ----------------------------------------------------------------------------------


class GroupIn(Input):
    """A group's name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Billing"}]})
    name: Name


class GroupOut(Output):
    """A group of a company, and who is in it."""

    id: Id
    name: str
    company_id: Id
    member_ids: list[Id]


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
    group_id: IdIn | None = None
    confidential: StrictBool = False


class TicketUpdate(Input):
    """Fields a PATCH may change; which ones the caller may change depends on their role.
    `assigned_to` and `group_id` may be null (unassign, out of any group); the others are
    left out to leave them as they are.

    `company_id`, `created_by`, `number` and `created_at` are not fields here: naming them
    is an unknown field, refused with 422.
    """

    # An empty body is refused (`minProperties`) by the service, after the permission
    # check: an empty PATCH asks "may I update it?" and changes nothing whatever the answer
    # (403 or 404, else 422), as tests/api/test_pdp_sdk.py asks it.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "in-progress"}], "minProperties": 1}
    )
    subject: Given[Subject] = None
    description: Given[Text] = None
    status: Given[Status] = None
    priority: Given[Priority] = None
    assigned_to: IdIn | None = None
    group_id: IdIn | None = None
    confidential: Given[StrictBool] = None


class ReplyIn(Input):
    """A reply, or an internal note when `internal` is true."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"body": "Thanks, we are looking into it.", "internal": False}]
        }
    )
    body: Text
    internal: StrictBool = False


class ReplyOut(Output):
    """A reply on a ticket."""

    id: Id
    author: Id
    body: str
    internal: bool
    created_at: datetime


class TicketOut(Output):
    """A ticket, with the replies the caller may see. Validated by attribute from a
    `Ticket`, or by stored name (`_id`, `company`, `group`) from the raw document, with the
    document's defaults for what an older document may lack."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: Id = Field(validation_alias=AliasChoices("id", "_id"))
    company_id: Id = Field(validation_alias=AliasChoices("company_id", "company"))
    number: int
    subject: str
    description: str
    status: Status = Status.OPEN
    priority: Priority = Priority.NORMAL
    created_by: Id
    assigned_to: Id | None = None
    group_id: Id | None = Field(default=None, validation_alias=AliasChoices("group_id", "group"))
    confidential: bool = False
    replies: list[ReplyOut] = Field(default_factory=list)
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


class ViewerOut(Output):
    """A member a ticket is shared with (in its `viewer` relation)."""

    ticket_id: Id
    user_id: Id
    role: str


# -- authz -----------------------------------------------------------------------------------


PermissionName = Annotated[
    str,
    StringConstraints(min_length=3, max_length=80, pattern=r"^[a-z_]+:[a-z_-]+$"),
    Field(examples=["ticket:delete"]),
]


class CheckIn(OneForm):
    """One question for the engine: a `permission` such as `ticket:delete` (the names of
    `/me/permissions`, 403s and the audit log), or the same split into `action` and
    `resource_type`; on a resource named by `resource_id`, or on a company by `company_id`
    (for what is decided per company, such as `ticket:create`)."""

    forms = (("permission",), ("action", "resource_type"))
    forms_error = "give either permission (e.g. ticket:delete), or action and resource_type"

    permission: PermissionName | None = None
    action: (
        Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z_-]+$")] | None
    ) = None
    resource_type: ResourceType | None = None
    resource_id: ObjectIdStr | None = None
    company_id: ObjectIdStr | None = None

    @property
    def permission_name(self) -> str:
        """The question's permission, whichever way it was asked."""
        return self.permission or f"{self.resource_type}:{self.action}"


class CheckBatchIn(Input):
    """Up to 100 questions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "checks": [
                        {"permission": "ticket:delete", "resource_id": "65f000000000000000000002"},
                        {"permission": "ticket:create", "company_id": "65f000000000000000000001"},
                    ]
                }
            ]
        }
    )
    checks: Annotated[list[CheckIn], Field(min_length=1, max_length=100)]


class CheckOut(BaseModel):
    """One answer per question, in order, with the engine's reasons; for an allowed update
    (`ticket:update`), `fields` lists what the caller may change (null otherwise)."""

    results: list[bool]
    reasons: list[str]
    fields: list[list[str] | None] = Field(
        description="Per question: for an allowed update (`ticket:update`), the fields the "
        "caller may change; for an allowed create, those they may set beyond what anyone "
        "who creates one sets; otherwise null"
    )
    values: list[dict[str, list[str]] | None] = Field(
        description="Per question, with `fields`: for each field that takes one of a list of "
        "values (a ticket's status, priority), the values the caller may set (only admins "
        "set `urgent`)"
    )


class CompanyPermissions(BaseModel):
    """The caller's standing in one company."""

    roles: list[str]
    access: str | None = Field(description="the access level of the caller's membership")
    permissions: list[str] = Field(description="what holds on every resource of the company")
    limited: dict[str, list[str]] = Field(
        description="what the access level limits to resources reached through a relation "
        "(permission -> relations, e.g. `ticket:read` -> `assignee`, `group#member`)"
    )
    conditions: dict[str, list[str]] = Field(
        description="what the policy's conditions narrow (permission -> condition names, "
        "e.g. `ticket:read` -> `confidential`; each described under the graph's `conditions`)"
    )


class PermissionGraph(BaseModel):
    """The caller's permission graph."""

    user_id: str
    companies: dict[str, CompanyPermissions]
    company_names: dict[str, str] = Field(description="the name of each company, by id")
    resources: dict[str, dict[str, Any]]
    derived: list[dict[str, Any]]
    conditions: dict[str, dict[str, Any]] = Field(
        description="the policy's conditions, by name: what each says (`when`), the reason "
        "it gives (`description`), and the permissions, roles and fields it narrows"
    )


class AuditOut(Output):
    """One audit event."""

    id: Id
    time: datetime
    user_id: Id | None = Field(validation_alias="user")
    action: str
    resource_type: str
    resource_id: Id | None
    allowed: bool
    reason: str
    request_id: str | None = Field(
        default=None, description="The request that caused it: its `X-Request-ID` header"
    )


class AuditPage(BaseModel):
    """A page of audit events, newest first."""

    items: list[AuditOut]
    next_cursor: str | None


# -- errors ----------------------------------------------------------------------------------


class FieldError(BaseModel):
    """One invalid part of a request: where (`loc`), what is wrong (`msg`), and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The body of every error response: a sentence for people and a stable code for code.

    Codes: `bad_request` (400), `unauthorized` (401), `forbidden` (403, with `permission`),
    `not_found` (404), `method_not_allowed` (405), `conflict` (409, with `field` for a taken
    email or username), `payload_too_large` (413), `invalid` (422, with `errors`),
    `rate_limited` (429, with `retry_after` and a `Retry-After` header), `internal_error`
    (500), `database_unavailable` (503, with a `Retry-After` header).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "detail": "role 'agent' in company 65f000000000000000000001 lacks "
                    "ticket:delete",
                    "code": "forbidden",
                    "permission": "ticket:delete",
                }
            ]
        },
    )
    detail: str
    code: str
    permission: str | None = None
    fields: list[str] | None = None
    field: str | None = None
    retry_after: int | None = None


class ValidationErrorOut(ErrorOut):
    """A 422: `detail` sums up, `errors` lists every invalid field (the input is never echoed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "body.password: String should have at least 10 characters",
                    "code": "invalid",
                    "errors": [
                        {
                            "loc": ["body", "password"],
                            "msg": "String should have at least 10 characters",
                            "type": "string_too_short",
                        }
                    ],
                }
            ]
        }
    )
    errors: list[FieldError]
