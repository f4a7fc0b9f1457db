"""The wire shapes of a Permit PDP, as the Permit SDKs send and read them.

Read from the SDKs themselves: `permit/enforcement/enforcer.py` (Python `permit`) and the
`Enforcer` of Node's `permitio`. Requests are accepted as the SDKs send them, extra fields
included (user names, roles and attributes, resource attributes, context): they are ignored,
because decisions come from the facts in this project's database, never from what a caller
says about the user. Every string and list is bounded.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints
from pydantic.config import JsonDict

MAX_BULK_CHECKS = 5_000
"""Questions in one `/pdp/allowed/bulk` call; more is a 422. A service filtering a list
with one bulk check (as Permit's own tutorial does) sends one question per item it fetched:
well past Permit's 100. The body-size limit of the bulk path bounds it too."""

MAX_FILTER_ITEMS = 100
"""Entries in each of `tenants`, `resources` and `resource_types` of `/pdp/user-permissions`."""

Key = Annotated[str, StringConstraints(min_length=1, max_length=254)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=100)]

_USER: JsonDict = {"key": "lisa@acme.example"}
_TICKET: JsonDict = {"type": "ticket", "key": "65f000000000000000000002", "tenant": "default"}


class Wire(BaseModel):
    """Base of the PDP's request bodies: fields the SDKs add and the engine does not use are
    ignored, not refused, so a newer SDK keeps working."""

    model_config = ConfigDict(extra="ignore")


class PdpUser(Wire):
    """Who is asking about: `key` is a user's id or their email."""

    key: Key


class PdpResource(Wire):
    """What the question is about.

    `type` is a resource type of the policy, in any case (`Ticket` = `ticket`). `key` (or
    `id`, which the Python SDK also knows) names one resource; without it the question is
    about every resource of the type in `tenant`. `tenant` is a company id; `"default"`,
    which both SDKs send when their caller gave none, counts as absent.
    """

    type: Word
    key: Key | None = None
    id: Key | None = None
    tenant: Key | None = None


class CheckQuery(Wire):
    """One question: may `user` perform `action` on `resource`?"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user": _USER, "action": "read", "resource": _TICKET}]}
    )

    user: PdpUser
    action: Word
    resource: PdpResource


class BulkCheckQuery(RootModel[list[CheckQuery]]):
    """Up to `MAX_BULK_CHECKS` questions, answered in order (the body is a JSON array)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                [
                    {"user": _USER, "action": "read", "resource": _TICKET},
                    {"user": _USER, "action": "delete", "resource": _TICKET},
                ]
            ]
        }
    )

    root: Annotated[list[CheckQuery], Field(max_length=MAX_BULK_CHECKS)]


class Verdict(BaseModel):
    """The answer to one question, with the engine's reason."""

    allow: bool
    reason: str


class BulkVerdicts(BaseModel):
    """The answers, in the order of the questions."""

    allow: list[Verdict]


class UserPermissionsQuery(Wire):
    """Whose permission graph, narrowed to some tenants, resources or resource types.

    `resources` are full keys (`"ticket:<id>"`, `"__tenant:<company id>"`); `resource_types`
    are types (`"ticket"`, `"__tenant"`). The Python SDK sends `null` for what is not
    narrowed, the Node SDK leaves it out: both mean everything.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"user": _USER, "tenants": None, "resources": None, "resource_types": None}
            ]
        }
    )

    user: PdpUser
    tenants: Annotated[list[Key], Field(max_length=MAX_FILTER_ITEMS)] | None = None
    resources: Annotated[list[Key], Field(max_length=MAX_FILTER_ITEMS)] | None = None
    resource_types: Annotated[list[Word], Field(max_length=MAX_FILTER_ITEMS)] | None = None


class TenantRef(BaseModel):
    """A company, as Permit names a tenant."""

    key: str
    attributes: dict[str, Any]


class ResourceRef(BaseModel):
    """One resource, as Permit names a resource instance."""

    type: str
    key: str
    attributes: dict[str, Any]


class PermissionEntry(BaseModel):
    """Roles and permissions on a tenant (`tenant` set) or on one resource (`resource` set,
    with `tenant` its company)."""

    tenant: TenantRef | None = None
    resource: ResourceRef | None = None
    roles: list[str]
    permissions: list[str]


class UserPermissions(RootModel[dict[str, PermissionEntry]]):
    """Permit's permission graph: `"__tenant:<company id>"` and `"<type>:<id>"` entries."""
