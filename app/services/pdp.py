"""Answers to the Permit PDP's questions (app/routers/pdp.py), decided by this project's engine.

Every answer comes from the facts and the code paths that guard the REST API: the user's
memberships and groups from `authz.facts.load_principal`, a named resource read through
`Scope` with the same read filter as `GET /tickets/{id}` (so a resource the user may not
read is answered like the API's 404: false, without confirming that it exists), and the
decision from `Engine.check`, `Engine.check_every` or `Engine.permissions`. Denials are
audited as the API's are, their reason marked with `PDP_MARK`.

Questions the engine cannot even pose (an unknown user, resource type or action, a
malformed key or tenant) are answered `allow: false` with a reason, never an error: a
decision point that raised on them would push every caller to treat errors as "allow" or
"deny" on its own.
"""

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from app.pdp_schemas import (
    CheckQuery,
    PermissionEntry,
    ResourceRef,
    TenantRef,
    UserPermissionsQuery,
    Verdict,
)
from app.services.lookups import live_companies
from authz.audit import AuditLog
from authz.engine import Decision, Engine, Principal, Resource
from authz.errors import InvalidInput
from authz.evaluate import holding
from authz.facts import principal_of
from authz.graph import GRAPH_RESOURCES
from authz.plan import Branch, Plan
from authz.scope import Scope, document_class_of
from models import User
from models.user import Access

PDP_MARK = "pdp: "
"""Prefix of the reason of every audit event the PDP surface records."""

MAX_DERIVED_RESOURCES = GRAPH_RESOURCES
"""Resources a user-permissions answer lists for one derived instance role (e.g. the
tickets a customer created, or those shared with them), at most; more is a 422 that says
how to narrow the question."""

TENANT_TYPE = "__tenant"
"""Permit's name for the tenant pseudo-type in permission-graph keys."""

DEFAULT_TENANT = "default"
"""What both SDKs send as `tenant` when their caller gave none."""


def _object_id(value: str | None) -> ObjectId | None:
    """`value` as an ObjectId if it is one (24 hex digits), else None."""
    if value is None or len(value) != 24 or not ObjectId.is_valid(value):
        return None
    return ObjectId(value)


def _tenant(value: str | None) -> str | None:
    """The tenant a question names, with the SDKs' placeholder for "none" taken as none."""
    return None if value in (None, "", DEFAULT_TENANT) else value


async def principals_of(keys: Iterable[str]) -> dict[str, Principal]:
    """The principal behind each user key that names an existing user (by id or by email):
    one read, the facts coming with the user document as they do for the REST API."""
    keys = set(keys)
    ids = {k: oid for k in keys if (oid := _object_id(k)) is not None}
    emails = {k.lower(): k for k in keys if k not in ids}
    clauses: list[dict[str, Any]] = []
    if ids:
        clauses.append({"_id": {"$in": list(ids.values())}})
    if emails:
        clauses.append({"email": {"$in": list(emails)}})
    if not clauses:
        return {}
    query = clauses[0] if len(clauses) == 1 else {"$or": clauses}
    docs = await User.get_pymongo_collection().find(query, {"email": 1, "access": 1}).to_list()
    found: dict[str, Principal] = {}
    by_id = {oid: key for key, oid in ids.items()}
    for doc in docs:
        principal = principal_of(doc["_id"], Access.model_validate(doc.get("access", {})))
        if doc["_id"] in by_id:
            found[by_id[doc["_id"]]] = principal
        if doc.get("email") in emails:
            found[emails[doc["email"]]] = principal
    return found


@dataclass(frozen=True, slots=True)
class _Question:
    """A check query, parsed against the policy; `problem` says why it cannot be posed."""

    user_key: str
    permission: str
    resource_type: str
    key: str | None
    tenant: str | None
    problem: str | None = None


class Pdp:
    """The PDP's three questions, answered for one request."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog | None,
        observe: Callable[[Decision], None] | None = None,
    ) -> None:
        self.engine = engine
        self.policy = engine.policy
        self.audit = audit
        self.observe = observe

    # -- checks ----------------------------------------------------------------------------

    async def check(self, queries: list[CheckQuery]) -> list[Verdict]:
        """Answer each query in order: one principal load per distinct user, one read per
        user and resource type for the resources named by key."""
        questions = [self._parse(q) for q in queries]
        users, scopes = await self._scopes({q.user_key for q in questions})
        docs = await self._named_resources(questions, users, scopes)
        verdicts = []
        for q in questions:
            user = users.get(q.user_key)
            if user is None:
                verdicts.append(Verdict(allow=False, reason=f"unknown user '{q.user_key}'"))
            elif q.problem is not None:
                verdicts.append(Verdict(allow=False, reason=q.problem))
            else:
                verdicts.append(self._decide(q, scopes[user].principal, docs))
        return verdicts

    def _parse(self, query: CheckQuery) -> _Question:
        rtype = query.resource.type.lower()
        key = query.resource.key if query.resource.key is not None else query.resource.id
        tenant = _tenant(query.resource.tenant)
        permission = f"{rtype}:{query.action}"
        problem = None
        if rtype not in self.policy.resource_types:
            known = ", ".join(sorted(self.policy.resource_types))
            problem = f"unknown resource type '{query.resource.type}' (known: {known})"
        elif permission not in self.policy.permissions:
            actions = sorted(p.split(":", 1)[1] for p in self._permissions_of(rtype))
            problem = f"unknown action '{query.action}' on {rtype} (known: {', '.join(actions)})"
        elif tenant is not None and _object_id(tenant) is None:
            problem = f"unknown tenant '{tenant}' (a tenant is a company id)"
        elif key is None and tenant is None:
            problem = (
                f"a check without a resource key is about every {rtype} of one company: "
                "give the company id as the resource's tenant"
            )
        return _Question(query.user.key, permission, rtype, key, tenant, problem)

    def _permissions_of(self, resource_type: str) -> list[str]:
        return [p for p in self.policy.permissions if p.split(":", 1)[0] == resource_type]

    async def _scopes(self, keys: set[str]) -> tuple[dict[str, ObjectId], dict[ObjectId, Scope]]:
        """The user behind each key, and their scope (one read for all of them)."""
        principals = await principals_of(keys)
        users = {key: principal.user_id for key, principal in principals.items()}
        # No audit log in the scope: the PDP records its denials itself, marked as its own.
        scopes = {p.user_id: Scope(self.engine, p) for p in principals.values()}
        return users, scopes

    async def _named_resources(
        self,
        questions: list[_Question],
        users: Mapping[str, ObjectId],
        scopes: Mapping[ObjectId, Scope],
    ) -> dict[tuple[ObjectId, str, ObjectId], Resource]:
        """The resources named by key that each user may read, read as the REST API reads
        them (the type's read permission ANDed into the query)."""
        wanted: dict[tuple[ObjectId, str], set[ObjectId]] = {}
        for q in questions:
            user = users.get(q.user_key)
            oid = _object_id(q.key)
            if q.problem is None and user is not None and oid is not None:
                wanted.setdefault((user, q.resource_type), set()).add(oid)
        reads = [scopes[user].resources_named(rtype, ids) for (user, rtype), ids in wanted.items()]
        found: dict[tuple[ObjectId, str, ObjectId], Resource] = {}
        for (user, rtype), resources in zip(wanted, await asyncio.gather(*reads), strict=True):
            for rid, resource in resources.items():
                found[(user, rtype, rid)] = resource
        return found

    def _decide(
        self,
        q: _Question,
        principal: Principal,
        docs: Mapping[tuple[ObjectId, str, ObjectId], Resource],
    ) -> Verdict:
        if q.key is None:
            assert q.tenant is not None  # noqa: S101 - `_parse` refuses neither
            company = ObjectId(q.tenant)
            decision = self.engine.check_every(principal, q.permission, company)
            self._record(principal, q, company, None, decision)
            return Verdict(allow=decision.allowed, reason=decision.reason)
        oid = _object_id(q.key)
        resource = docs.get((principal.user_id, q.resource_type, oid)) if oid else None
        if resource is None:
            if oid is not None and q.permission != self.policy.resource_types[q.resource_type].read:
                # As `Scope.get` records an action on a resource the caller cannot read.
                self._audit(principal, q, None, oid, f"{q.resource_type} not readable")
            return Verdict(
                allow=False,
                reason=f"{q.resource_type} '{q.key}' not found, or not readable by this user",
            )
        if q.tenant is not None and ObjectId(q.tenant) != resource.company:
            return Verdict(
                allow=False,
                reason=f"tenant {q.tenant} is not the company of {q.resource_type} {q.key}",
            )
        decision = self.engine.check(principal, q.permission, resource)
        self._record(principal, q, resource.company, resource.id, decision)
        return Verdict(allow=decision.allowed, reason=decision.reason)

    def _record(
        self,
        principal: Principal,
        q: _Question,
        company: ObjectId,
        resource_id: ObjectId | None,
        decision: Decision,
    ) -> None:
        if self.observe is not None:
            self.observe(decision)
        if not decision.allowed:
            self._audit(principal, q, company, resource_id, decision.reason)

    def _audit(
        self,
        principal: Principal,
        q: _Question,
        company: ObjectId | None,
        resource_id: ObjectId | None,
        reason: str,
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                user=principal.user_id,
                company=company,
                action=q.permission,
                resource_type=q.resource_type,
                resource_id=resource_id,
                allowed=False,
                reason=PDP_MARK + reason,
            )

    # -- the permission graph --------------------------------------------------------------

    async def user_permissions(self, query: UserPermissionsQuery) -> dict[str, PermissionEntry]:
        """Permit's graph for the user, narrowed as asked; an unknown user has none."""
        principal = (await principals_of([query.user.key])).get(query.user.key)
        if principal is None:
            return {}
        narrow = _Narrowing.of(query)
        graph = self.engine.permissions(principal, narrow.companies)
        entries: dict[str, PermissionEntry] = {}
        if narrow.wants_type(TENANT_TYPE):
            for company, held in graph["companies"].items():
                key = f"{TENANT_TYPE}:{company}"
                if narrow.wants_key(key):
                    entries[key] = PermissionEntry(
                        tenant=TenantRef(key=company, attributes={}),
                        roles=held["roles"],
                        permissions=held["permissions"],
                    )
        for rid, held in graph["resources"].items():
            self._add_instance(
                entries, narrow, held["resource_type"], rid, held["company_id"], held
            )
        for rtype, rid, company, held in await self._derived(principal, narrow):
            self._add_instance(entries, narrow, rtype, rid, company, held)
        names = await live_companies([ObjectId(c) for c in _companies_named(entries)])
        for entry in entries.values():
            if entry.tenant is not None:
                name = names.get(ObjectId(entry.tenant.key))
                entry.tenant.attributes = {"name": name} if name is not None else {}
        return entries

    def _add_instance(
        self,
        entries: dict[str, PermissionEntry],
        narrow: "_Narrowing",
        resource_type: str,
        resource_id: str,
        company: str,
        held: Mapping[str, list[str]],
    ) -> None:
        key = f"{resource_type}:{resource_id}"
        if not (narrow.wants_type(resource_type) and narrow.wants_key(key)):
            return
        entry = entries.get(key)
        if entry is None:
            entries[key] = PermissionEntry(
                tenant=TenantRef(key=company, attributes={}),
                resource=ResourceRef(type=resource_type, key=resource_id, attributes={}),
                roles=sorted(held["roles"]),
                permissions=sorted(held["permissions"]),
            )
        else:  # both shared with the user and derived (e.g. their own ticket, also shared)
            entry.roles = sorted({*entry.roles, *held["roles"]})
            entry.permissions = sorted({*entry.permissions, *held["permissions"]})

    async def _derived(
        self, principal: Principal, narrow: "_Narrowing"
    ) -> list[tuple[str, str, str, dict[str, list[str]]]]:
        """The resources on which the user holds permissions the `__tenant` entry does not
        cover: those whose plan is conditional in a company (a customer's own and shared
        tickets, a group-scoped agent's groups' tickets, an agent's tickets where the
        `confidential` condition narrows their role), each with the permissions and the
        grants (roles) that hold on it, as the plan decides them.

        A permission always allowed in a company is said once by its `__tenant` entry:
        listing its resources would only make the answer grow with the tenant. The rest is
        read with the REST API's own filter (the conditional plans compiled, ANDed with the
        read filter) and bounded by `MAX_DERIVED_RESOURCES`: past it the answer would be
        incomplete, so it is refused with the way to narrow it.
        """
        found: list[tuple[str, str, str, dict[str, list[str]]]] = []
        scope = Scope(self.engine, principal)
        for company in principal.roles:
            if not narrow.wants_company(company):
                continue
            for rtype in self.policy.resource_types.values():
                if narrow.wants_type(rtype.name):
                    found += await self._conditional(scope, narrow, company, rtype.name)
        return found

    async def _conditional(
        self, scope: Scope, narrow: "_Narrowing", company: ObjectId, rtype: str
    ) -> list[tuple[str, str, str, dict[str, list[str]]]]:
        """One company's resources of `rtype` on which a conditional plan holds."""
        spec = self.policy.resource_types[rtype]
        plans = [
            plan
            for perm in self._permissions_of(rtype)
            if perm != spec.create
            and (plan := self.engine.plan(scope.principal, perm, company)).kind == "conditional"
        ]
        if not plans or spec.tenant == "_id":
            return []
        ids = narrow.ids_of(rtype)
        if ids == []:
            return []
        filters = [
            self.engine.company_filter(scope.principal, p.permission, company) for p in plans
        ]
        query: dict[str, Any] = filters[0] if len(filters) == 1 else {"$or": filters}
        if ids is not None:
            query = {"$and": [query, {"_id": {"$in": ids}}]}
        model = document_class_of(scope, rtype)
        page = await scope.page(model, spec.read, query, MAX_DERIVED_RESOURCES + 1)
        if len(page.items) > MAX_DERIVED_RESOURCES:
            why = ", ".join(sorted({b.role for p in plans for b in p.branches}))
            raise InvalidInput(
                f"the user holds {why} on more than {MAX_DERIVED_RESOURCES} {rtype} "
                "resources: narrow the question with `resources` (the keys you need) or "
                "`tenants`; to list what a user may see, use the API's own lists, whose "
                "filter has no such bound"
            )
        entries = []
        for doc in page.items:
            resource = scope.resource_of(doc)
            permissions: set[str] = set()
            roles: set[str] = set()
            for plan in plans:
                for branch in holding(plan, scope.principal, resource):
                    permissions.add(plan.permission)
                    roles.add(_role_label(plan, branch))
            if permissions:
                held = {"roles": sorted(roles), "permissions": sorted(permissions)}
                entries.append((rtype, str(resource.id), str(resource.company), held))
        return entries


def _role_label(plan: Plan, branch: Branch) -> str:
    """A grant as Permit names a role: an instance role, or the tenant role with how far its
    access level reaches."""
    if branch.instance or branch.through is None:
        return branch.role
    return f"{branch.role} ({plan.level} access)"


def _companies_named(entries: Mapping[str, PermissionEntry]) -> set[str]:
    return {e.tenant.key for e in entries.values() if e.tenant is not None}


@dataclass(frozen=True, slots=True)
class _Narrowing:
    """The `tenants`, `resources` and `resource_types` of a user-permissions query."""

    companies: list[ObjectId] | None
    keys: frozenset[str] | None
    types: frozenset[str] | None

    @classmethod
    def of(cls, query: UserPermissionsQuery) -> "_Narrowing":
        """Parse the filters; keys and types are compared in the policy's (lower) case."""
        companies = None
        if query.tenants is not None:
            companies = [oid for t in query.tenants if (oid := _object_id(t)) is not None]
        keys = None
        if query.resources is not None:
            keys = frozenset(_normal_key(k) for k in query.resources)
        types = None
        if query.resource_types is not None:
            types = frozenset(_normal_type(t) for t in query.resource_types)
        return cls(companies, keys, types)

    def wants_company(self, company: ObjectId) -> bool:
        """Whether entries of `company` are asked for."""
        return self.companies is None or company in self.companies

    def wants_type(self, resource_type: str) -> bool:
        """Whether entries of `resource_type` are asked for."""
        return self.types is None or resource_type in self.types

    def wants_key(self, key: str) -> bool:
        """Whether the entry `key` (`"<type>:<id>"`) is asked for."""
        return self.keys is None or key in self.keys

    def ids_of(self, resource_type: str) -> list[ObjectId] | None:
        """The ids of `resource_type` named in `resources`; None when not narrowed."""
        if self.keys is None:
            return None
        prefix = f"{resource_type}:"
        return [
            oid
            for k in self.keys
            if k.startswith(prefix) and (oid := _object_id(k[len(prefix) :])) is not None
        ]


def _normal_type(resource_type: str) -> str:
    return resource_type if resource_type == TENANT_TYPE else resource_type.lower()


def _normal_key(key: str) -> str:
    rtype, sep, rest = key.partition(":")
    return f"{_normal_type(rtype)}{sep}{rest}"
