"""The names the running app's policy declares (tenant roles, access levels, resource
types), for request validation and for `/openapi.json`.

Request bodies are validated before any dependency runs, and the app's policy is its own
(`POLICY_FILE`), not necessarily the shipped one: so each request carries its app's engine
in a context variable (`PolicyNames`, an ASGI middleware), which the validators read. A
role a policy copy adds is accepted by every endpoint that takes a role; one it drops is
refused with a 422 naming those it has; and the OpenAPI document lists the names of the
policy the app runs, not of the one it was imported with.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, WithJsonSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from authz.engine import Engine, default_engine

Kind = Literal["roles", "access_levels", "resource_types"]

_ENGINE: ContextVar[Engine | None] = ContextVar("policy_engine", default=None)
_MARK = "x-policy-names"
LEVELS_BY_ROLE = "x-policy-access-by-role"
"""Marks a body with `role` and `ticket_access`: its schema gets, from the policy, which
access levels each role allows (`engine.level_for` refuses the others)."""


def names(kind: Kind, engine: Engine | None = None) -> list[str]:
    """The names of `kind` the engine's policy declares (roles and types sorted, levels in
    the policy's order: the first is a role's default)."""
    policy = (engine or _ENGINE.get() or default_engine()).policy
    if kind == "access_levels":
        return list(policy.access_levels)
    return sorted(policy.roles if kind == "roles" else policy.resource_types)


def _declared(kind: Kind) -> Callable[[str], str]:
    def check(name: str) -> str:
        known = names(kind)
        if name not in known:
            raise ValueError(f"must be one of: {', '.join(known)}")
        return name

    return check


def _schema(kind: Kind) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", _MARK: kind})


# String types accepting only the names the running policy declares.
Role = Annotated[str, AfterValidator(_declared("roles")), _schema("roles")]
TicketAccess = Annotated[str, AfterValidator(_declared("access_levels")), _schema("access_levels")]
ResourceType = Annotated[
    str, AfterValidator(_declared("resource_types")), _schema("resource_types")
]
# The same in responses, as stored: a role a policy copy dropped is still shown, with no
# access level (it gives no rights).
RoleShown = Annotated[str, _schema("roles")]
AccessShown = Annotated[str, _schema("access_levels")]


class PolicyNames:
    """ASGI middleware: the requests of an app validate against that app's policy."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _ENGINE.set(self.engine)
        try:
            await self.app(scope, receive, send)
        finally:
            _ENGINE.reset(token)


def _levels_by_role(engine: Engine) -> list[dict[str, Any]]:
    """One `anyOf` branch per role with the levels it allows (null: the role's default),
    and one for a body without a role, whose level is checked against the member's."""
    roles = engine.policy.roles
    return [
        {
            "required": ["role"],
            "properties": {
                "role": {"const": name},
                "ticket_access": {"enum": [*roles[name].access, None]},
            },
        }
        for name in sorted(roles)
    ] + [{"properties": {"role": {"type": "null"}}}]


def name_in_openapi(spec: Any, engine: Engine) -> Any:
    """`spec` with every policy-name schema listing the engine's names as its `enum`, and
    every `LEVELS_BY_ROLE` body the levels of each role."""
    if isinstance(spec, dict):
        kind = spec.pop(_MARK, None)
        if kind is not None:
            spec["enum"] = names(kind, engine)
        if spec.pop(LEVELS_BY_ROLE, False):
            spec["anyOf"] = _levels_by_role(engine)
        for value in spec.values():
            name_in_openapi(value, engine)
    elif isinstance(spec, list):
        for value in spec:
            name_in_openapi(value, engine)
    return spec
