"""Loads `policy.toml` into immutable, validated objects; an inconsistent policy stops start-up.

The file's shape is declared as pydantic models that forbid unknown keys, so a misspelt key
or a wrong type is reported with its location (`roles.agent.permissions.3`); what a
shape cannot say (a permission that names no declared resource type, a role granting an
undeclared permission, a field no update may change, a condition naming an attribute its
resource type does not have) is checked by one validator over the whole document. Read
from a file, an error names the line of the section or condition at fault.
"""

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

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

from authz.conditions import (
    MAX_BRANCHES,
    ConditionError,
    Context,
    Meaning,
    branches_at_most,
    names_new,
    parse,
    resolve,
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


class Attribute(_Section):
    """A value of a resource that conditions may compare: where it lives, and its type.

    `text` may list the values it takes (a condition naming another is refused); a `bool`
    that is missing reads as false.
    """

    path: DocumentPath
    type: Literal["text", "bool", "time", "number"] = "text"
    values: tuple[str, ...] = ()


class ResourceType(_Section):
    """A kind of protected resource, and where its attributes live in its documents."""

    name: str = ""
    collection: Name
    tenant: DocumentPath
    read: Permission
    update: Permission | None = None
    create: Permission | None = None
    # The fields a write names, by the API's names -> where they are stored.
    fields: Mapping[Name, DocumentPath] = Field(default_factory=dict)
    # The fields anyone who may create one sets (beyond what their role may write).
    create_fields: Names = frozenset()
    attributes: Mapping[Name, Attribute] = Field(default_factory=dict)
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
    writable_fields: Names = frozenset()
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
    # A resource in a parent (a ticket in a group) is assigned only to a holder of this role
    # on the parent, unless the assignee's access to the type is not limited.
    assigned_within: str | None = None


class Condition(_Section):
    """A rule that narrows grants: `permissions` (of one resource type) hold only where
    `when` is true, for the grants of `roles` (tenant or instance roles; every role when
    empty). With `fields`, it narrows only setting those fields, and `when` may read the
    values a write would leave (`new.<attribute>`). `description` is the reason a person
    reads when it refuses."""

    name: str = ""
    description: str
    when: str
    permissions: Permissions = Field(min_length=1)
    roles: frozenset[str] = frozenset()
    fields: Names = frozenset()


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
    conditions: Mapping[Name, Condition] = Field(default_factory=dict)
    invariants: Invariants

    @model_validator(mode="before")
    @classmethod
    def _name_sections(cls, raw: Any) -> Any:
        """Give each named section its own name (the key it is declared under)."""
        if isinstance(raw, Mapping):
            raw = dict(raw)
            for key in ("resource_types", "roles", "instance_roles", "access_levels", "conditions"):
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
        within = invariants.assigned_within
        if within is not None and (
            within not in self.instance_roles
            or not any(within.partition("#")[0] in t.parents for t in self.resource_types.values())
        ):
            raise ValueError("invariants.assigned_within must name a parent type's instance role")
        for condition in self.conditions.values():
            condition_meaning(self, condition)
        return self

    def condition_type(self, condition: Condition) -> ResourceType:
        """The one resource type a condition's permissions are about."""
        return self.resource_types[next(iter(condition.permissions)).partition(":")[0]]


def condition_meaning(policy: Policy, condition: Condition) -> Meaning:
    """The meaning of a condition, checked against its resource type and the policy."""
    where = f"conditions.{condition.name}"
    declared = frozenset(policy.permissions)
    _known(condition.permissions, declared, f"{where}.permissions")
    types = {p.partition(":")[0] for p in condition.permissions}
    if len(types) != 1:
        raise ValueError(f"{where}.permissions must be of one resource type, not {sorted(types)}")
    rtype = policy.condition_type(condition)
    roles = set(policy.roles) | {r for r in policy.instance_roles if r.startswith(f"{rtype.name}#")}
    unknown = sorted(condition.roles - roles)
    if unknown:
        raise ValueError(f"{where}.roles names {unknown}, no role of {rtype.name}")
    writes = {rtype.update, rtype.create} - {None}
    if condition.fields:
        if not condition.permissions <= writes:
            raise ValueError(f"{where}.fields goes with {' or '.join(sorted(map(str, writes)))}")
        if not condition.fields <= set(rtype.fields):
            raise ValueError(f"{where}.fields may only name {sorted(rtype.fields)}")
    elif rtype.create in condition.permissions:
        raise ValueError(
            f"{where}: {rtype.create} is decided before the {rtype.name} exists: "
            "give the fields it is about"
        )
    ctx = Context(rtype, sorted(policy.roles), sorted(policy.access_levels), bool(condition.fields))
    try:
        meaning = resolve(parse(condition.when), ctx)
    except ConditionError as exc:
        raise ValueError(f"{where}.when: {exc}") from None
    if names_new(meaning) and not condition.fields:
        raise ValueError(f"{where}.when reads new values: give the fields it is about")
    if not names_new(meaning) and branches_at_most(meaning) > MAX_BRANCHES:
        raise ValueError(
            f"{where}.when: a filter would need {branches_at_most(meaning)} branches for it, "
            f"more than {MAX_BRANCHES}: write it with fewer `or` inside `and`"
        )
    return meaning


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
        if not fields <= set(rtype.fields):
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
    if irole.writable_fields and (
        rtype.update not in irole.permissions or not irole.writable_fields <= set(rtype.fields)
    ):
        raise ValueError(
            f"{where}.writable_fields needs {rtype.update} and may only name {sorted(rtype.fields)}"
        )
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


def parse_policy(raw: Mapping[str, Any], source: str | None = None) -> Policy:
    """Validate a parsed policy document and build the `Policy`; with the file's text
    (`source`), each problem names the line of the section it is about."""
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "policy"
            message = err["msg"].removeprefix("Value error, ")
            line = _line_of(source, message if where == "policy" else where)
            said = (
                message if where == "policy" and _SECTION.match(message) else f"{where}: {message}"
            )
            problems.append(f"line {line}: {said}" if line else said)
        raise PolicyError("; ".join(problems)) from None


_SECTION = re.compile(
    r"\b((?:conditions|roles|instance_roles|resource_types|access_levels)\.[\w#\"]+)"
)


def _line_of(source: str | None, text: str) -> int | None:
    """The line of `source` where the section a problem names starts (its `when`, for a
    condition), or None when the problem names none."""
    found = _SECTION.search(text)
    if source is None or found is None:
        return None
    section, _, rest = found.group(1).replace('"', "").partition(".")
    name = rest.split(".")[0]
    lines = source.splitlines()
    headers = (f"[{section}.{name}]", f'[{section}."{name}"]')
    start = next((i for i, ln in enumerate(lines) if ln.strip() in headers), None)
    if start is None:
        return None
    if ".when" in text:
        for i in range(start + 1, len(lines)):
            if lines[i].startswith("["):
                break
            if lines[i].split("=", 1)[0].strip() == "when":
                return i + 1
    return start + 1


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate a policy file."""
    source = path.read_text()
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: {exc}") from None
    return parse_policy(raw, source)
