"""The authorized query layer: the only door from a handler to protected collections.

A `Scope` binds the engine to one caller (the analogue of ZenStack's
`enhance(prisma, {user})`). Every read ANDs the compiled permission filter into the
handler's own query and comes back as typed documents, validated once here (or as stored,
for a caller that validates them into its own model: `stored_page`); a question about
resources named by id (`check_many`) reads them by id and lets the engine decide; every
single-document operation is authorized once, by `get`, whose `Authorized` result (the
document, the resource it stands for, the decision) is what a write takes, so a write
never decides twice. Not-found answers what the caller cannot read, forbidden what they
can read but not change; denials and writes go to the audit trail. Routers never touch
the collections themselves (tests/unit/test_architecture.py fails if one does).

Which document class holds which resource type comes from the policy (`collection`) and
the models' own collection names: nothing here names a resource type.

A many-valued relation (a ticket's viewers, up to the policy's limit) is read with the
caller's own entry only (`$elemMatch`): that is all a decision about the caller needs, and a
page of documents never carries their whole audiences. A read that shows the holders (a
group's members) asks for them (`whole=True`). Adding a holder is one atomic write on the
resource, the limit checked in the write itself (`add_holder`).
"""

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from beanie import Document
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from authz.audit import AuditLog
from authz.engine import Decision, Engine, Principal, Resource, value_at
from authz.errors import Conflict, DomainError, Forbidden, NotFound
from authz.listing import STRATEGIES, ListRequest, Strategy, conjoin
from authz.mongo import one_or_in
from models import DOCUMENT_MODELS, touched

D = TypeVar("D", bound=Document)
T = TypeVar("T")

_NOT_READABLE = "{0} {1} not found, or not readable by the caller"
_UNNAMED = "name the {0} (resource_id) or its company (company_id)"
_UNKNOWN = "unknown permission {0}"


def collection_of(model: type[Document]) -> str:
    """The collection a document class declares (its `Settings.name`)."""
    settings = getattr(model, "Settings", None)
    name = getattr(settings, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"{model.__name__} declares no collection name")
    return name


def document_classes(engine: Engine, models: Iterable[type[Document]]) -> dict[str, type[Document]]:
    """Resource type -> the document class holding it, matched by the collection the policy
    names; a resource type no class holds is refused."""
    by_collection = {collection_of(m): m for m in models}
    classes = {}
    for name, rtype in engine.policy.resource_types.items():
        if rtype.collection not in by_collection:
            raise LookupError(
                f"the policy's resource type {name!r} lives in {rtype.collection!r}, "
                "which no document class in models/ declares"
            )
        classes[name] = by_collection[rtype.collection]
    return classes


@functools.lru_cache(maxsize=8)
def shipped_classes(engine: Engine) -> Mapping[str, type[Document]]:
    """Resource type -> document class, for the document classes of `models/`."""
    return MappingProxyType(document_classes(engine, DOCUMENT_MODELS))


_STORED_NAMES: dict[type[Document], dict[str, str]] = {}


def _stored_names(model: type[Document]) -> dict[str, str]:
    """Stored name -> attribute name, for every field of `model` (computed once a class)."""
    names = _STORED_NAMES.get(model)
    if names is None:
        names = {(info.alias or name): name for name, info in model.model_fields.items()}
        _STORED_NAMES[model] = names
    return names


def _many_paths(engine: Engine, resource_type: str) -> list[str]:
    """The document paths of `resource_type`'s many-valued relations."""
    rtype = engine.resource_type(resource_type)
    return [rtype.relations[name] for name in rtype.many]


def document_class_of(scope: "Scope", resource_type: str) -> type[Document]:
    """The document class holding `resource_type` in `scope`'s table."""
    return scope.models[resource_type]


class _Stored(Mapping[str, Any]):
    """A document's fields by their stored names (`_id`, not `id`), read on demand: what
    the engine's `resource_of` reads, without dumping the whole document."""

    __slots__ = ("_doc", "_names")

    def __init__(self, doc: Document) -> None:
        self._doc = doc
        self._names = _stored_names(type(doc))

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self._doc, self._names[key])
        except KeyError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass(frozen=True, slots=True)
class Authorized(Generic[D]):
    """A document the caller holds `decision.permission` on, and the resource it stands for."""

    doc: D
    resource: Resource
    decision: Decision


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of documents; `docs_received` counts what crossed the wire for it."""

    items: list[T]
    next_cursor: ObjectId | None
    docs_received: int


@dataclass(frozen=True, slots=True)
class Question:
    """One `may I?` for `check_many`: a permission on a resource named by id, or on a
    company (for what is decided per company, such as creating a ticket)."""

    permission: str
    resource_id: ObjectId | None = None
    company_id: ObjectId | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The decision on one `Question`; for an allowed update (the resource type's `update`
    permission), the fields the caller may change with it, and for an allowed create, the
    fields the caller may set beyond what anyone who creates one gives; and for those of
    them that take one of a list of values, the values the caller may set."""

    decision: Decision
    fields: frozenset[str] | None = None
    values: Mapping[str, list[str]] | None = None


class Scope:
    """One caller's authorized view of the protected collections."""

    def __init__(
        self,
        engine: Engine,
        principal: Principal,
        audit: AuditLog | None = None,
        strategy: Strategy = "pushdown",
        models: Mapping[str, type[Document]] | None = None,
        observe: Callable[[Decision], None] | None = None,
    ) -> None:
        """`observe`, when given, is told every decision a request asks for (to count
        them); the read projections' checks are not requests' questions and are not told."""
        self.engine = engine
        self.principal = principal
        self.audit = audit
        self.strategy = strategy
        self.models = models if models is not None else shipped_classes(engine)
        self.observe = observe

    @property
    def user_id(self) -> ObjectId:
        """The caller's user id."""
        return self.principal.user_id

    def resource_type(self, model: type[Document]) -> str:
        """The policy's resource type whose documents `model` holds."""
        for name, holder in self.models.items():
            if holder is model:
                return name
        raise LookupError(f"no resource type of the policy lives in {model.__name__}")

    def resource_of(self, doc: Document) -> Resource:
        """The resource a typed document stands for."""
        return self.engine.resource_of(self.resource_type(type(doc)), _Stored(doc))

    def projection(
        self, model: type[Document], resource_type: str, whole: bool = False
    ) -> dict[str, Any] | None:
        """What a read of `resource_type` fetches: every field, its many-valued relations
        cut down to the caller's own entry unless `whole` (None: the whole document)."""
        many = _many_paths(self.engine, resource_type)
        if whole or not many:
            return None
        fields = {name: 1 for name in _stored_names(model) if name not in many}
        return fields | {path: {"$elemMatch": {"$eq": self.user_id}} for path in many}

    def sees_internal_notes(self, doc: Document) -> bool:
        """Whether the read projection of `doc` keeps internal notes for the caller."""
        return self.engine.sees_internal_notes(self.principal, self.resource_of(doc))

    def internal_notes_shown(self, model: type[Document]) -> Callable[[Mapping[str, Any]], bool]:
        """`sees_internal_notes` for stored documents of `model` (as PyMongo decodes them)."""
        resource_type = self.resource_type(model)
        required = self.engine.policy.invariants.internal_notes_require
        # Decided once per company where the caller's role holds it on every resource there
        # (an admin, an agent whose access no condition narrows); else ticket by ticket.
        everywhere: dict[ObjectId, bool] = {}

        def shown(stored: Mapping[str, Any]) -> bool:
            resource = self.engine.resource_of(resource_type, stored)
            every = everywhere.get(resource.company)
            if every is None:
                decision = self.engine.check_every(self.principal, required, resource.company)
                every = everywhere[resource.company] = decision.allowed
            return every or self.engine.sees_internal_notes(self.principal, resource)

        return shown

    def _collection(self, resource_type: str) -> AsyncCollection[dict[str, Any]]:
        return self.models[resource_type].get_pymongo_collection()

    # -- decisions, recorded ---------------------------------------------------------------

    def check(self, permission: str, resource: Resource) -> Decision:
        """A decision without side effects (for `/authz/check` and read projections)."""
        return self.engine.check(self.principal, permission, resource)

    def authorize(self, permission: str, resource: Resource) -> Decision:
        """Raise `NotFound`/`Forbidden` unless allowed; a denial is recorded."""
        try:
            decision = self.engine.authorize(self.principal, permission, resource)
        except DomainError as exc:
            self._observed(exc.decision)
            self.record(resource, exc.decision)
            raise
        return self._observed(decision)

    def _observed(self, decision: Decision) -> Decision:
        if self.observe is not None:
            self.observe(decision)
        return decision

    def record(self, resource: Resource, decision: Decision) -> None:
        """Audit a decision: a denial, or a write that was allowed and is now final (writes
        do not record themselves: one may be part of a transaction not yet committed)."""
        self._audit(resource.company, resource.type, resource.id, decision)

    def _audit(
        self,
        company: ObjectId | None,
        resource_type: str,
        resource_id: ObjectId | None,
        decision: Decision,
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                user=self.principal.user_id,
                company=company,
                action=decision.permission,
                resource_type=resource_type,
                resource_id=resource_id,
                allowed=decision.allowed,
                reason=decision.reason,
            )

    async def check_many(self, questions: Sequence[Question]) -> list[Answer]:
        """Answer many questions, in order, reading each named resource once.

        A resource the caller cannot read is answered with a denial that says only that it
        was not found, whether or not it exists.
        """
        wanted: dict[str, set[ObjectId]] = {}
        for q in questions:
            rtype = self._type_of(q.permission)
            if q.resource_id is not None and rtype is not None:
                wanted.setdefault(rtype, set()).add(q.resource_id)
        found: dict[ObjectId, Resource] = {}
        for rtype, ids in wanted.items():
            found |= await self.resources_named(rtype, ids)
        answers = [self._answer(q, found) for q in questions]
        for answer in answers:
            self._observed(answer.decision)
        return answers

    def _answer(self, q: Question, found: Mapping[ObjectId, Resource]) -> Answer:
        resource = self._resource_named(q, found)
        if isinstance(resource, Decision):
            return Answer(resource)
        rtype = self.engine.resource_type(resource.type)
        if resource.id is None:  # about the company: every resource of the type there
            decision = self.engine.check_every(self.principal, q.permission, resource.company)
        else:
            decision = self.check(q.permission, resource)
        if not decision.allowed or q.permission not in (rtype.update, rtype.create):
            return Answer(decision)
        creating = q.permission == rtype.create
        if creating:
            fields = self.engine.settable_fields(self.principal, resource)
            offered = fields | rtype.create_fields
        else:
            fields = offered = self.engine.writable_fields(self.principal, resource)
        values = self.engine.allowed_values(self.principal, resource, offered, creating)
        return Answer(decision, fields, values)

    def _type_of(self, permission: str) -> str | None:
        name = permission.partition(":")[0]
        return name if name in self.engine.policy.resource_types else None

    async def resources_named(
        self, resource_type: str, ids: Iterable[ObjectId]
    ) -> dict[ObjectId, Resource]:
        """The resources among `ids` the caller may read, read in one query (with only the
        fields decisions need); the others are simply absent.

        Read by id (in the caller's companies), and the read permission decided here by the
        engine: this answers questions, the engine decides each of them next anyway, and a
        lookup by id is the cheapest query there is. The compiled read filter is the
        engine's own decision in query form (tests/authz/test_authz_property.py holds the two
        equal), so sending it would only make the server decide the same thing first."""
        rtype = self.engine.resource_type(resource_type)
        if rtype.tenant == "_id":  # a tenant itself: the id names its company
            return {i: Resource(resource_type, i, i) for i in ids}
        paths: dict[str, Any] = dict.fromkeys(self.engine.paths(resource_type), 1)
        paths |= {
            p: {"$elemMatch": {"$eq": self.user_id}}
            for p in _many_paths(self.engine, resource_type)
        }
        # Only the caller's companies can hold what they may read: the shard key targets
        # the read, and the list is as long as their memberships, whatever they were given.
        companies = list(self.principal.roles)
        if not companies:
            return {}
        query = {rtype.tenant: one_or_in(companies), "_id": {"$in": list(ids)}}
        cursor = self._collection(resource_type).find(query, paths)
        found = {}
        async for doc in cursor:
            resource = self.engine.resource_of(resource_type, doc)
            if self.engine.check(self.principal, rtype.read, resource).allowed:
                found[doc["_id"]] = resource
        return found

    def _resource_named(
        self, q: Question, found: Mapping[ObjectId, Resource]
    ) -> Resource | Decision:
        """The resource a question is about, or the denial when there is none to ask about."""
        rtype = self._type_of(q.permission)
        if rtype is None:
            return Decision(False, q.permission, _UNKNOWN, q.permission)
        if q.resource_id is not None:
            resource = found.get(q.resource_id)
            if resource is None:
                return Decision(False, q.permission, _NOT_READABLE, rtype, q.resource_id)
            return resource
        if q.company_id is not None:
            return Resource(rtype, q.company_id)
        return Decision(False, q.permission, _UNNAMED, rtype)

    # -- reads -----------------------------------------------------------------------------

    def filter(
        self, permission: str, resource_type: str, query: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The handler's query ANDed with what the caller may see."""
        allowed = self.engine.query_filter(self.principal, permission, resource_type)
        return conjoin(allowed, query)

    async def page(
        self,
        model: type[D],
        permission: str,
        query: Mapping[str, Any],
        limit: int,
        after: ObjectId | None = None,
    ) -> Page[D]:
        """A page of documents the caller holds `permission` on, newest first."""
        raw = await self.stored_page(model, permission, query, limit, after)
        return Page(
            [model.model_validate(d) for d in raw.items], raw.next_cursor, raw.docs_received
        )

    async def stored_page(
        self,
        model: type[Document],
        permission: str,
        query: Mapping[str, Any],
        limit: int,
        after: ObjectId | None = None,
    ) -> Page[dict[str, Any]]:
        """`page`, with the documents as PyMongo decoded them: for a caller that validates
        them straight into its own model (a response body), not through `model`."""
        resource_type = self.resource_type(model)
        projection = self.projection(model, resource_type)
        req = ListRequest(permission, resource_type, query, limit, after, projection)
        lister = STRATEGIES[self.strategy]
        raw = await lister(model.get_pymongo_collection(), self.engine, self.principal, req)
        return Page(raw.items, raw.next_cursor, raw.docs_received)

    async def find_all(
        self,
        model: type[D],
        permission: str,
        query: Mapping[str, Any] | None = None,
        whole: bool = False,
    ) -> list[D]:
        """Every document matching `query` that the caller holds `permission` on (with the
        whole of their many-valued relations if `whole`)."""
        resource_type = self.resource_type(model)
        flt = self.filter(permission, resource_type, query)
        cursor = model.get_pymongo_collection().find(
            flt, self.projection(model, resource_type, whole)
        )
        return [model.model_validate(d) async for d in cursor]

    async def aggregate(
        self, model: type[Document], permission: str, pipeline: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Run `pipeline` over the documents the caller holds `permission` on.

        The compiled filter is the first stage, so the later ones (`$lookup`, `$group`, ...)
        only ever see what the caller may see. The rows have the pipeline's shape: the
        caller validates them into its own model.
        """
        stages = [{"$match": self.filter(permission, self.resource_type(model))}, *pipeline]
        cursor = await model.get_pymongo_collection().aggregate(stages)
        return await cursor.to_list()

    async def get(
        self,
        model: type[D],
        resource_id: ObjectId,
        permission: str,
        query: Mapping[str, Any] | None = None,
        whole: bool = False,
    ) -> Authorized[D]:
        """Fetch one readable document matching `query` and authorize `permission` on it
        (with the whole of its many-valued relations if `whole`).

        Not readable (or absent) -> `NotFound`; readable but `permission` missing ->
        `Forbidden` naming it. Either way the denial is recorded.
        """
        resource_type = self.resource_type(model)
        read = self.engine.resource_type(resource_type).read
        raw = await model.get_pymongo_collection().find_one(
            self.filter(read, resource_type, conjoin({"_id": resource_id}, query)),
            self.projection(model, resource_type, whole),
        )
        if raw is None:
            if permission != read:  # an attempt to change what one cannot see
                denied = Decision(False, permission, _NOT_READABLE, resource_type, resource_id)
                self._audit(None, resource_type, resource_id, denied)
            raise NotFound(f"{resource_type} not found")
        resource = self.engine.resource_of(resource_type, raw)
        decision = self.authorize(permission, resource)
        return Authorized(model.model_validate(raw), resource, decision)

    # -- writes ----------------------------------------------------------------------------

    def authorize_write(
        self, resource: Resource, changes: Mapping[str, Any], creating: bool = False
    ) -> None:
        """Raise `Forbidden` (recorded) unless the caller may set `changes` on `resource`
        (the API's field names; a new resource's values when `creating`)."""
        try:
            self.engine.authorize_write(self.principal, resource, changes, creating)
        except Forbidden as exc:
            permission = str(exc.extra.get("permission", ""))
            self._audit(
                resource.company,
                resource.type,
                resource.id,
                Decision(False, permission, "{0}", exc.message),
            )
            raise

    async def update(
        self,
        target: Authorized[D],
        changes: Mapping[str, Any],
        session: AsyncClientSession | None = None,
        whole: bool = False,
    ) -> D:
        """Set `changes` (fields by the policy's names, already authorized with
        `authorize_write`) on an authorized document, and its `updated_at`; return it as it
        is now (with the whole of its many-valued relations if `whole`).

        The permission filter is applied again in the write itself, so a document cannot
        change tenant or access between the decision and the write.
        """
        stored = self.engine.stored_changes(target.resource.type, changes)
        return await self._write(target, touched({"$set": stored}), session, whole)

    async def push(self, target: Authorized[D], field: str, value: Any) -> D:
        """Append `value` to the document's array `field` (a reply), and set its
        `updated_at`, on an authorized document; return it as it is now."""
        return await self._write(target, touched({"$push": {field: value}}))

    async def _write(
        self,
        target: Authorized[D],
        update: Mapping[str, Any],
        session: AsyncClientSession | None = None,
        whole: bool = False,
    ) -> D:
        model = type(target.doc)
        resource = target.resource
        raw = await model.get_pymongo_collection().find_one_and_update(
            self.filter(target.decision.permission, resource.type, {"_id": resource.id}),
            dict(update),
            projection=self.projection(model, resource.type, whole),
            return_document=True,
            session=session,
        )
        if raw is None:
            raise NotFound(f"{resource.type} not found")
        return model.model_validate(raw)

    async def add_holder(
        self,
        target: Authorized[D],
        relation: str,
        user_id: ObjectId,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Add `user_id` to a many-valued relation of an authorized resource (share it with
        them); False if they are in it already.

        One atomic write on the resource (the permission filter applied again), which
        never touches the new holder's own documents: many people adding the same user to
        different resources at once do not contend. The policy's limit is part of the
        write's condition, so a full relation is refused (`Conflict`), never overfilled.
        """
        resource = target.resource
        rtype = self.engine.resource_type(resource.type)
        path, limit = rtype.relations[relation], rtype.many[relation]
        coll = type(target.doc).get_pymongo_collection()
        where = self.filter(target.decision.permission, resource.type, {"_id": resource.id})
        room = {path: {"$ne": user_id}, f"{path}.{limit - 1}": {"$exists": False}}
        added = await coll.update_one(
            conjoin(where, room), {"$push": {path: user_id}}, session=session
        )
        if added.modified_count:
            return True
        found = await coll.find_one(
            where, {path: {"$elemMatch": {"$eq": user_id}}}, session=session
        )
        if found is None:
            raise NotFound(f"{resource.type} not found")
        if value_at(found, path):
            return False
        raise Conflict(
            f"this {resource.type} already holds {limit} users as {relation}, the most the "
            f"policy allows: remove one first",
            limit=limit,
        )

    async def remove_holder(
        self,
        target: Authorized[D],
        relation: str,
        user_id: ObjectId,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Take `user_id` out of a many-valued relation of an authorized resource, in one
        atomic write; False if they were not in it."""
        resource = target.resource
        path = self.engine.resource_type(resource.type).relations[relation]
        where = self.filter(target.decision.permission, resource.type, {"_id": resource.id})
        removed = (
            await type(target.doc)
            .get_pymongo_collection()
            .update_one(
                conjoin(where, {path: user_id}), {"$pull": {path: user_id}}, session=session
            )
        )
        return removed.modified_count == 1

    async def delete(self, target: Authorized[D], session: AsyncClientSession | None = None) -> D:
        """Delete an authorized document (the permission filter applied again); return it."""
        model = type(target.doc)
        resource = target.resource
        raw = await model.get_pymongo_collection().find_one_and_delete(
            self.filter(target.decision.permission, resource.type, {"_id": resource.id}),
            session=session,
        )
        if raw is None:
            raise NotFound(f"{resource.type} not found")
        return model.model_validate(raw)
