"""The authorized query layer: the only door from a handler to protected collections.

A `Scope` binds the engine to one caller (the analogue of ZenStack's
`enhance(prisma, {user})`). Every read ANDs the compiled permission filter into the
handler's own query; every single-document operation is authorized first, with not-found
for what the caller cannot read and forbidden for what they can read but not change;
denials and writes go to the audit trail. Routers never touch the collections themselves
(tests/test_architecture.py fails if one does).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from authz.audit import AuditLog
from authz.engine import Decision, Engine, Principal, Resource
from authz.errors import DomainError, NotFound
from authz.listing import STRATEGIES, ListRequest, Page, Strategy, conjoin
from models import AuditEvent, Company, Membership, Ticket

_MODELS = {"ticket": Ticket, "members": Membership, "company": Company, "audit": AuditEvent}


class Scope:
    """One caller's authorized view of the protected collections."""

    def __init__(
        self,
        engine: Engine,
        principal: Principal,
        audit: AuditLog | None = None,
        strategy: Strategy = "pushdown",
    ) -> None:
        self.engine = engine
        self.principal = principal
        self.audit = audit
        self.strategy = strategy

    @property
    def user_id(self) -> ObjectId:
        """The caller's user id."""
        return self.principal.user_id

    def collection(self, resource_type: str) -> AsyncCollection[dict[str, Any]]:
        """The raw collection of a resource type; used only inside this layer."""
        return _MODELS[resource_type].get_pymongo_collection()

    # -- decisions, recorded ---------------------------------------------------------------

    def check(self, permission: str, resource: Resource) -> Decision:
        """A decision without side effects (for `/authz/check` and read projections)."""
        return self.engine.check(self.principal, permission, resource)

    def authorize(self, permission: str, resource: Resource) -> Decision:
        """Raise `NotFound`/`Forbidden` unless allowed; denials are audited."""
        try:
            return self.engine.authorize(self.principal, permission, resource)
        except DomainError:
            decision = self.engine.check(self.principal, permission, resource)
            self._record(permission, resource, decision)
            raise

    def record_write(self, permission: str, resource: Resource, decision: Decision) -> None:
        """Audit a write that was allowed and has happened."""
        self._record(permission, resource, decision)

    def _record(self, permission: str, resource: Resource, decision: Decision) -> None:
        if self.audit is not None:
            self.audit.record(
                user=self.principal.user_id,
                company=resource.company,
                action=permission,
                resource_type=resource.type,
                resource_id=resource.id,
                allowed=decision.allowed,
                reason=decision.reason,
            )

    # -- reads -----------------------------------------------------------------------------

    def filter(
        self, permission: str, resource_type: str, query: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The handler's query ANDed with what the caller may see."""
        allowed = self.engine.query_filter(self.principal, permission, resource_type)
        return conjoin(allowed, query)

    async def page(self, req: ListRequest) -> Page:
        """A page of documents the caller holds `req.permission` on, newest first."""
        strategy = self.strategy if req.resource_type == "ticket" else "pushdown"
        lister = STRATEGIES[strategy]
        return await lister(self.collection(req.resource_type), self.engine, self.principal, req)

    async def find_all(
        self,
        permission: str,
        resource_type: str,
        query: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every document matching `query` that the caller holds `permission` on."""
        cursor = self.collection(resource_type).find(
            self.filter(permission, resource_type, query), projection
        )
        return await cursor.to_list()

    async def aggregate(
        self, permission: str, resource_type: str, pipeline: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Run `pipeline` over the documents the caller holds `permission` on.

        The compiled filter is the first stage, so the later ones (`$lookup`, `$group`, ...)
        only ever see what the caller may see.
        """
        stages = [{"$match": self.filter(permission, resource_type)}, *pipeline]
        cursor = await self.collection(resource_type).aggregate(stages)
        return await cursor.to_list()

    async def get(
        self,
        resource_type: str,
        resource_id: ObjectId,
        permission: str,
        projection: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Fetch one readable document matching `query` and authorize `permission` on it.

        Not readable (or absent) -> `NotFound`; readable but `permission` missing ->
        `Forbidden` naming it.
        """
        read = self.engine.policy.resource_types[resource_type].read
        doc = await self.collection(resource_type).find_one(
            self.filter(read, resource_type, conjoin({"_id": resource_id}, query)), projection
        )
        if doc is None:
            if self.audit is not None and permission != read:
                self.audit.record(
                    user=self.principal.user_id,
                    company=None,
                    action=permission,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    allowed=False,
                    reason=f"{resource_type} not readable",
                )
            raise NotFound(f"{resource_type} not found")
        self.authorize(permission, self.engine.resource_of(resource_type, doc))
        return doc

    # -- writes ----------------------------------------------------------------------------

    async def update(
        self,
        resource: Resource,
        permission: str,
        update: Mapping[str, Any],
        session: AsyncClientSession | None = None,
    ) -> dict[str, Any]:
        """Apply `update` to one resource after authorizing it; return the new document.

        The permission filter is applied again in the write itself, so a document cannot
        change tenant or access between the check and the write.
        """
        decision = self.authorize(permission, resource)
        assert resource.id is not None  # noqa: S101 - single-document writes name one
        doc = await self.collection(resource.type).find_one_and_update(
            self.filter(permission, resource.type, {"_id": resource.id}),
            dict(update),
            return_document=True,
            session=session,
        )
        if doc is None:
            raise NotFound(f"{resource.type} not found")
        self.record_write(permission, resource, decision)
        return doc

    async def delete(
        self, resource: Resource, permission: str, session: AsyncClientSession | None = None
    ) -> tuple[dict[str, Any], Decision]:
        """Delete one resource after authorizing it; return the deleted document and the
        decision, which the caller records once the write is final (it may be part of a
        transaction that has yet to commit)."""
        decision = self.authorize(permission, resource)
        doc = await self.collection(resource.type).find_one_and_delete(
            self.filter(permission, resource.type, {"_id": resource.id}), session=session
        )
        if doc is None:
            raise NotFound(f"{resource.type} not found")
        return doc, decision
