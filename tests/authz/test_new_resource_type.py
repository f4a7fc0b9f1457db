"""Adding a resource type is a policy change plus a document class: nothing in `authz/`.

A knowledge-base `article` is declared here, in a copy of the shipped policy, with its
own permissions, relation (`author`), writable fields and derived instance role; the
engine and the authorized query layer then decide, filter and write it like a ticket.
"""

import copy
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from beanie import Document, PydanticObjectId, init_beanie
from bson import ObjectId
from fastapi import FastAPI

from app.db import initialise
from authz.engine import Engine, Principal
from authz.errors import Forbidden, NotFound
from authz.policy import DEFAULT_POLICY_PATH, parse_policy
from authz.scope import Question, Scope, document_classes
from models import DOCUMENT_MODELS


class Article(Document):
    """A knowledge-base article of one company."""

    company: PydanticObjectId
    author: PydanticObjectId
    title: str

    class Settings:
        name = "test_articles"


def article_policy() -> dict[str, Any]:
    raw = copy.deepcopy(tomllib.loads(DEFAULT_POLICY_PATH.read_text()))
    raw["permissions"] |= {
        "article:read": "read an article",
        "article:update": "edit an article",
        "article:publish": "publish an article",
    }
    raw["resource_types"]["article"] = {
        "collection": "test_articles",
        "tenant": "company",
        "read": "article:read",
        "update": "article:update",
        "fields": {"title": "title"},
        "relations": {"author": "author"},
    }
    raw["roles"]["admin"]["permissions"] += ["article:read", "article:update", "article:publish"]
    raw["roles"]["admin"]["writable_fields"]["article"] = ["title"]
    raw["roles"]["agent"]["permissions"] += ["article:read"]
    raw["instance_roles"]["article#author"] = {
        "description": "the author reads and edits their own article",
        "permissions": ["article:read", "article:update"],
        "derived_from": ["author"],
    }
    return raw


ENGINE = Engine(parse_policy(article_policy()))
MODELS = document_classes(ENGINE, [*DOCUMENT_MODELS, Article])
ACME, GLOBEX = PydanticObjectId(ObjectId()), PydanticObjectId(ObjectId())
ADA, AGNES, CARL = (PydanticObjectId(ObjectId()) for _ in range(3))


@pytest.fixture
async def articles(app: FastAPI) -> AsyncIterator[dict[str, Article]]:
    """Three articles in Acme (by Ada the admin and by Carl the customer) and one in Globex,
    with the documents bound to the session's database (and given back afterwards)."""
    db = app.state.db
    await init_beanie(database=db.client[db.name], document_models=[*DOCUMENT_MODELS, Article])
    made = {
        "ada's": Article(company=ACME, author=ADA, title="Resetting a password"),
        "carl's": Article(company=ACME, author=CARL, title="How I export invoices"),
        "globex": Article(company=GLOBEX, author=ADA, title="Elsewhere"),
    }
    for article in made.values():
        await article.insert()
    try:
        yield made
    finally:
        await Article.get_pymongo_collection().drop()
        await initialise(db)


def scope_of(user: ObjectId, role: str) -> Scope:
    return Scope(ENGINE, Principal(user, {ACME: role}), models=MODELS)


async def test_lists_and_reads_follow_the_declared_roles(articles: dict[str, Article]) -> None:
    async def titles(scope: Scope) -> set[str]:
        page = await scope.page(Article, "article:read", {}, 50)
        return {a.title for a in page.items}

    acme = {articles["ada's"].title, articles["carl's"].title}
    assert await titles(scope_of(ADA, "admin")) == acme
    assert await titles(scope_of(AGNES, "agent")) == acme
    assert await titles(scope_of(CARL, "customer")) == {articles["carl's"].title}
    carl = scope_of(CARL, "customer")
    with pytest.raises(NotFound):
        await carl.get(Article, articles["ada's"].id, "article:read")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await carl.get(Article, articles["globex"].id, "article:read")  # type: ignore[arg-type]


async def test_writes_follow_the_declared_permissions_and_fields(
    articles: dict[str, Article],
) -> None:
    admin, agent = scope_of(ADA, "admin"), scope_of(AGNES, "agent")
    carl = scope_of(CARL, "customer")
    own = await carl.get(Article, articles["carl's"].id, "article:update")  # type: ignore[arg-type]
    assert "author" in own.decision.reason
    assert ENGINE.writable_fields(carl.principal, own.resource) == frozenset()
    with pytest.raises(Forbidden, match="lacks article:update"):
        await agent.get(Article, articles["ada's"].id, "article:update")  # type: ignore[arg-type]
    target = await admin.get(Article, articles["carl's"].id, "article:update")  # type: ignore[arg-type]
    admin.authorize_write(target.resource, {"title": "Exporting invoices"})
    edited = await admin.update(target, {"title": "Exporting invoices"})
    assert isinstance(edited, Article) and edited.title == "Exporting invoices"
    answers = await admin.check_many(
        [
            Question("article:update", articles["ada's"].id),
            Question("article:publish", articles["ada's"].id),
            Question("article:read", articles["globex"].id),
        ]
    )
    assert [a.decision.allowed for a in answers] == [True, True, False]
    assert answers[0].fields == frozenset({"title"})


def test_the_filter_uses_the_declared_paths() -> None:
    carl = Principal(CARL, {ACME: "customer", GLOBEX: "admin"})
    assert ENGINE.query_filter(carl, "article:read", "article") == {
        "$or": [{"company": GLOBEX}, {"company": ACME, "author": CARL}]
    }


def test_a_type_without_a_document_class_stops_start_up() -> None:
    with pytest.raises(LookupError, match="test_articles"):
        document_classes(ENGINE, DOCUMENT_MODELS)
