"""Loads `policy.toml` into immutable, validated objects; an inconsistent policy stops start-up.

The file's shape is declared as pydantic models that forbid unknown keys, so a misspelt key
or a wrong type is reported with its location (`roles.agent.permissions.3`); what a
shape cannot say (a permission that names no declared resource type, a role granting an
undeclared permission, a field no update may change) is checked by one validator over
the whole document.
"""

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$")]
Permission = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*:[a-z][a-z_]*$")]
DocumentPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]


def _no_duplicates(values: Any) -> Any:
    if isinstance(values, list) and len(set(map(str, values))) != len(values):
        raise ValueError("lists an entry twice")
    return values


Names = Annotated[frozenset[Name], BeforeValidator(_no_duplicates)]
Permissions = Annotated[frozenset[Permission], BeforeValidator(_no_duplicates)]


class PolicyError(ValueError):
    """The policy file is inconsistent; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceType(_Section):
    """A kind of protected resource, and where its attributes live in its documents."""

    name: str = ""
    collection: Name
    tenant: DocumentPath
    read: Permission
    update: Permission | None = None
    create: Permission | None = None
    fields: Names = frozenset()
    relations: Mapping[Name, DocumentPath] = Field(default_factory=dict)
    # Relations holding many users (an array of ids), with the most one resource may hold.
    many: Mapping[Name, PositiveInt] = Field(default_factory=dict)
    parents: Mapping[Name, DocumentPath] = Field(default_factory=dict)


class TenantRole(_Section):
    """A role held through a membership; applies to every resource of that company."""

    name: str = ""
    description: str = ""
    permissions: Permissions
    writable_fields: Mapping[Name, Names] = Field(default_factory=dict)
    # The access levels a membership with this role may have; the first is the default.
    access: tuple[Name, ...] = ("all",)


class InstanceRole(_Section):
    """A role on one resource, derived from the resource's relations to users.

    `granted_with` and `granted_as`: a member holding that permission on the resource may
    add another user to that many-valued relation (share a ticket, staff a group).
    `most_per_member`: how many resources of one company a user may hold the role on,
    required where an access level reaches through the role (the engine then needs the
    holder's resources in their facts, and they must stay bounded).
    """

    name: str = ""
    description: str = ""
    permissions: Permissions
    derived_from: tuple[Name, ...] = ()
    granted_with: Permission | None = None
    granted_as: Name | None = None
    most_per_member: PositiveInt | None = None

    @property
    def resource_type(self) -> str:
        """The `<type>` of the role's `<type>#<role>` name."""
        return self.name.partition("#")[0]

    @property
    def role(self) -> str:
        """The `<role>` of `<type>#<role>`, as a copy of the holder's facts names it."""
        return self.name.partition("#")[2]


class AccessLevel(_Section):
    """How far a tenant role's permissions reach: per resource type, the relations through
    which they still hold (a type not listed is reached whole)."""

    name: str = ""
    description: str = ""
    reach: Mapping[Name, tuple[str, ...]] = Field(default_factory=dict)


class Invariants(_Section):
    """Rules no role can break."""

    # The role a company's creator receives, which the company must never be left without.
    owner_role: Name
    assignable_roles: Names
    internal_notes_require: Permission


class Policy(_Section):
    """The whole policy, validated."""

    permissions: Mapping[Permission, str] = Field(min_length=1)
    resource_types: Mapping[Name, ResourceType]
    roles: Mapping[Name, TenantRole] = Field(min_length=1)
    instance_roles: Mapping[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*#[a-z][a-z_]*$")], InstanceRole
    ] = Field(default_factory=dict)
    access_levels: Mapping[Name, AccessLevel] = Field(
        default_factory=lambda: {"all": AccessLevel(name="all")}
    )
    invariants: Invariants

    @model_validator(mode="before")
    @classmethod
    def _name_sections(cls, raw: Any) -> Any:
        """Give each named section its own name (the key it is declared under)."""
        if isinstance(raw, Mapping):
            raw = dict(raw)
            for key in ("resource_types", "roles", "instance_roles", "access_levels"):
                if isinstance(raw.get(key), Mapping):
                    raw[key] = {
                        name: {**spec, "name": name} if isinstance(spec, Mapping) else spec
                        for name, spec in raw[key].items()
                    }
        return raw

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        """Everything a name refers to must be declared, and fit where it is used."""
        declared = frozenset(self.permissions)
        for perm in declared:
            if perm.partition(":")[0] not in self.resource_types:
                raise ValueError(f"permission {perm!r} names an undeclared resource type")
        for rtype in self.resource_types.values():
            unknown = sorted(set(rtype.many) - set(rtype.relations))
            if unknown:
                raise ValueError(f"resource_types.{rtype.name}.many names no relation {unknown}")
            for parent in rtype.parents:
                if parent not in self.resource_types:
                    raise ValueError(f"resource_types.{rtype.name}.parents names {parent!r}")
            for used in (rtype.read, rtype.update, rtype.create):
                if used is not None and used not in declared:
                    raise ValueError(f"resource_types.{rtype.name} names undeclared {used!r}")
        for role in self.roles.values():
            _check_role(role, declared, self.resource_types)
        for irole in self.instance_roles.values():
            _check_instance_role(irole, declared, self.resource_types)
        for level in self.access_levels.values():
            _check_access_level(level, self)
        for role in self.roles.values():
            unknown = sorted(set(role.access) - set(self.access_levels))
            if unknown or not role.access:
                raise ValueError(f"roles.{role.name}.access names undeclared levels {unknown}")
        invariants = self.invariants
        if not invariants.assignable_roles <= set(self.roles):
            raise ValueError("invariants.assignable_roles names unknown roles")
        if invariants.owner_role not in self.roles:
            raise ValueError("invariants.owner_role names an unknown role")
        if invariants.internal_notes_require not in declared:
            raise ValueError("invariants.internal_notes_require names an undeclared permission")
        return self


def _check_access_level(level: AccessLevel, policy: Policy) -> None:
    """A level reaches a type through its relations to users, or through one of its parents
    (`<parent type>#<role>`: the user holds that instance role on the resource's parent)."""
    for type_name, through in level.reach.items():
        where = f"access_levels.{level.name}.reach.{type_name}"
        rtype = policy.resource_types.get(type_name)
        if rtype is None:
            raise ValueError(f"{where} names an undeclared resource type")
        for path in through:
            parent, _, _role = path.partition("#")
            known = (
                path in policy.instance_roles and parent in rtype.parents
                if "#" in path
                else path in rtype.relations
            )
            if not known:
                raise ValueError(f"{where} names {path!r}, neither a relation nor a parent role")
            if "#" in path and policy.instance_roles[path].most_per_member is None:
                raise ValueError(
                    f"{where} reaches through {path!r}, which must declare most_per_member "
                    "(the holder's resources are copied into their facts, which must stay "
                    "bounded)"
                )


def _known(perms: frozenset[str], declared: frozenset[str], where: str) -> None:
    unknown = sorted(perms - declared)
    if unknown:
        raise ValueError(f"{where} names undeclared permissions: {', '.join(unknown)}")


def _check_role(
    role: TenantRole, declared: frozenset[str], types: Mapping[str, ResourceType]
) -> None:
    """A role grants declared permissions, and writes only fields its updates may change."""
    _known(role.permissions, declared, f"roles.{role.name}.permissions")
    for type_name, fields in role.writable_fields.items():
        where = f"roles.{role.name}.writable_fields.{type_name}"
        rtype = types.get(type_name)
        if rtype is None or rtype.update is None:
            raise ValueError(f"{where}: {type_name!r} has no update permission")
        if not fields <= rtype.fields:
            raise ValueError(f"{where} may only name {sorted(rtype.fields)}")
        if fields and rtype.update not in role.permissions:
            raise ValueError(f"{where} is set but the role lacks {rtype.update}")


def _check_instance_role(
    irole: InstanceRole, declared: frozenset[str], types: Mapping[str, ResourceType]
) -> None:
    """An instance role grants permissions on its own type, derived from its relations."""
    where = f"instance_roles.{irole.name}"
    rtype = types.get(irole.resource_type)
    if rtype is None:
        raise ValueError(f"{where} names an undeclared resource type")
    _known(irole.permissions, declared, f"{where}.permissions")
    if any(p.partition(":")[0] != rtype.name for p in irole.permissions):
        raise ValueError(f"{where} may only grant {rtype.name}:* permissions")
    unknown = sorted(set(irole.derived_from) - set(rtype.relations))
    if unknown:
        raise ValueError(f"{where}.derived_from names undeclared relations {unknown}")
    if irole.granted_with is not None and irole.granted_with not in declared:
        raise ValueError(f"{where}.granted_with names undeclared {irole.granted_with!r}")
    if (irole.granted_with is None) != (irole.granted_as is None):
        raise ValueError(f"{where}: granted_with and granted_as go together")
    if irole.granted_as is not None and (
        irole.granted_as not in rtype.many or irole.granted_as not in irole.derived_from
    ):
        raise ValueError(
            f"{where}.granted_as must name a relation of {rtype.name}.many that the role is "
            "derived_from"
        )


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """Validate a parsed policy document and build the `Policy`."""
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(problems) from None


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate a policy file."""
    with path.open("rb") as fh:
        return parse_policy(tomllib.load(fh))
