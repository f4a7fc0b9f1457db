"""Loads `policy.toml` into immutable objects and refuses an inconsistent policy at start."""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

# The ticket fields a PATCH may name; the policy's whitelists must stay within them.
TICKET_UPDATABLE_FIELDS = frozenset({"subject", "description", "status", "priority", "assigned_to"})
TICKET_FIELDS = TICKET_UPDATABLE_FIELDS | {
    "company_id",
    "created_by",
    "number",
    "created_at",
    "updated_at",
    "replies",
}
TENANT_ROLES = frozenset({"admin", "agent", "customer"})


class PolicyError(ValueError):
    """The policy file is inconsistent; the message says where."""


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A kind of protected resource."""

    name: str
    collection: str
    tenant_field: str
    read: str


@dataclass(frozen=True, slots=True)
class TenantRole:
    """A role held through a membership; applies to every resource of that company."""

    name: str
    description: str
    permissions: frozenset[str]
    writable_ticket_fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class InstanceRole:
    """A role on one resource, derived from a relation or stored as a grant."""

    name: str
    grant_name: str
    description: str
    resource_type: str
    permissions: frozenset[str]
    derived_from_relations: tuple[str, ...]
    granted_with: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole policy, validated."""

    permissions: Mapping[str, str]
    resource_types: Mapping[str, ResourceType]
    roles: Mapping[str, TenantRole]
    instance_roles: Mapping[str, InstanceRole]
    immutable_ticket_fields: frozenset[str]
    assignable_roles: frozenset[str]
    internal_notes_require: str


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    if len(set(value)) != len(value):
        raise PolicyError(f"{where} lists an entry twice")
    return value


def _known(perms: list[str], declared: Mapping[str, str], where: str) -> frozenset[str]:
    unknown = sorted(set(perms) - set(declared))
    if unknown:
        raise PolicyError(f"{where} names undeclared permissions: {', '.join(unknown)}")
    return frozenset(perms)


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """Validate a parsed policy document and build the `Policy`."""
    declared = raw.get("permissions")
    if not isinstance(declared, dict) or not declared:
        raise PolicyError("[permissions] must declare at least one permission")
    types = {}
    for name, spec in raw.get("resource_types", {}).items():
        read = spec.get("read", "")
        if read not in declared:
            raise PolicyError(f"resource_types.{name}.read names undeclared permission {read!r}")
        types[name] = ResourceType(name, spec["collection"], spec["tenant_field"], read)
    for perm in declared:
        prefix = perm.split(":", 1)[0]
        if ":" not in perm or prefix not in types:
            raise PolicyError(
                f"permission {perm!r} must be '<resource type>:<action>' with a "
                f"declared resource type"
            )

    roles = {}
    for name, spec in raw.get("roles", {}).items():
        where = f"roles.{name}"
        perms = _known(_strings(spec.get("permissions"), f"{where}.permissions"), declared, where)
        writable = frozenset(
            _strings(spec.get("writable_ticket_fields", []), f"{where}.writable_ticket_fields")
        )
        if not writable <= TICKET_UPDATABLE_FIELDS:
            raise PolicyError(
                f"{where}.writable_ticket_fields may only name {sorted(TICKET_UPDATABLE_FIELDS)}"
            )
        if writable and "ticket:update" not in perms:
            raise PolicyError(f"{where} has writable ticket fields but not ticket:update")
        roles[name] = TenantRole(name, spec.get("description", ""), perms, writable)
    if set(roles) != TENANT_ROLES:
        raise PolicyError(f"[roles] must define exactly {sorted(TENANT_ROLES)}")

    instance_roles = {}
    for name, spec in raw.get("instance_roles", {}).items():
        where = f"instance_roles.{name}"
        rtype, _, grant_name = name.partition("#")
        if rtype != spec.get("resource_type") or rtype not in types or not grant_name:
            raise PolicyError(
                f"{where} must be named '<resource_type>#<role>' and match resource_type"
            )
        perms = _known(_strings(spec.get("permissions"), f"{where}.permissions"), declared, where)
        if any(not p.startswith(rtype + ":") for p in perms):
            raise PolicyError(f"{where} may only grant {rtype}:* permissions")
        relations = tuple(_strings(spec.get("derived_from_relations", []), f"{where}.relations"))
        if not set(relations) <= TICKET_FIELDS:
            raise PolicyError(f"{where}.derived_from_relations must name fields of a {rtype}")
        granted_with = spec.get("granted_with")
        if granted_with is not None and granted_with not in declared:
            raise PolicyError(f"{where}.granted_with names undeclared {granted_with!r}")
        instance_roles[name] = InstanceRole(
            name, grant_name, spec.get("description", ""), rtype, perms, relations, granted_with
        )

    inv = raw.get("invariants", {})
    immutable = frozenset(_strings(inv.get("immutable_ticket_fields", []), "immutable fields"))
    for role in roles.values():
        if role.writable_ticket_fields & immutable:
            raise PolicyError(f"roles.{role.name} may write immutable fields")
    assignable = frozenset(_strings(inv.get("assignable_roles", []), "assignable_roles"))
    if not assignable <= set(roles):
        raise PolicyError("invariants.assignable_roles names unknown roles")
    internal = inv.get("internal_notes_require", "")
    if internal not in declared:
        raise PolicyError("invariants.internal_notes_require names an undeclared permission")

    return Policy(
        permissions=MappingProxyType(dict(declared)),
        resource_types=MappingProxyType(types),
        roles=MappingProxyType(roles),
        instance_roles=MappingProxyType(instance_roles),
        immutable_ticket_fields=immutable,
        assignable_roles=assignable,
        internal_notes_require=internal,
    )


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate a policy file."""
    with path.open("rb") as fh:
        return parse_policy(tomllib.load(fh))
