"""The engine's vocabulary: who asks (`Principal`), about what (`Resource`), and the answer
(`Decision`). Plain values, no I/O."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bson import ObjectId

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ResourceRoles:
    """Instance roles a user holds on one resource, and that resource's company."""

    resource_type: str
    company: ObjectId
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller's facts: tenant role (and its access level, where it is not the role's
    default) per company, and per resource id the instance roles an access level reaches
    through (the groups they are in).

    Bounded by the caller's memberships: instance roles on the resource a decision is
    about (a ticket shared with them) are read from that resource, never from here.
    Loaded with the user on every request (see `authz.facts`); never put in a token, so a
    role change or a removal takes effect on the very next request.
    """

    user_id: ObjectId
    roles: Mapping[ObjectId, str] = field(default_factory=dict)
    resource_roles: Mapping[ObjectId, ResourceRoles] = field(default_factory=dict)
    levels: Mapping[ObjectId, str] = field(default_factory=dict)

    def holding(self, resource_type: str, role: str, company: ObjectId) -> tuple[ObjectId, ...]:
        """The ids of the `resource_type` resources of `company` on which the principal
        holds `role` (from their facts: the groups they are in)."""
        return tuple(
            rid
            for rid, held in self.resource_roles.items()
            if held.resource_type == resource_type
            and held.company == company
            and role in held.roles
        )


@dataclass(frozen=True, slots=True)
class Resource:
    """What a decision is about.

    `company` is the tenant; `id` the resource's own id when it has one; `relations` the
    ids the resource is related to, by the policy's names: users by relation (for a
    ticket: `creator`, `assignee`; a many-valued one, `viewer`, as a sequence of ids,
    which may hold only the caller's own entry) and parent resources by type (`group`);
    `attributes` the values conditions compare (`status`, `confidential`, ...).
    """

    type: str
    company: ObjectId
    id: ObjectId | None = None
    relations: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    attributes: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


class Decision:
    """The answer to one question, with a reason a person can read.

    The reason is formatted only when read: `check` runs on every request and in bulk.
    """

    __slots__ = ("_args", "_template", "allowed", "permission")

    def __init__(self, allowed: bool, permission: str, template: str, *args: object) -> None:
        self.allowed = allowed
        self.permission = permission
        self._template = template
        self._args = args

    @property
    def reason(self) -> str:
        """Why the decision was taken, naming the role, company and permission."""
        return self._template.format(*self._args)

    def __bool__(self) -> bool:
        return self.allowed

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, reason={self.reason!r})"


def names(related: Any, user_id: ObjectId) -> bool:
    """Whether a relation's value names `user_id`: it is that id, or (a many-valued
    relation) a sequence holding it, as MongoDB's `{path: user}` matches either."""
    if isinstance(related, list | tuple):
        return user_id in related
    return bool(related == user_id)


def value_at(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted document path, or None."""
    if type(doc) is dict and "." not in path:  # the common case, on every decision
        return doc.get(path)
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
