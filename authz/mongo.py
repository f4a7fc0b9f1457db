"""A plan compiled into a MongoDB filter: the only module that knows MongoDB's operators.

Each of the caller's companies contributes its plan for the permission: nothing when it is
denied, `{tenant: C}` when it is always allowed, and otherwise one branch per way it can
hold, in disjunctive normal form (negations pushed down to the comparisons), each led by
the tenant field so that every branch is an index range of one tenant. Branches that differ
only by their company are merged (`{tenant: {$in: [...]}}`), so the filter grows with the
caller's memberships, never with the data nor with what was shared with them.

Fail closed: a plan the adapter cannot express (a value only a write knows, a caller fact
left unresolved, a form that would explode into too many branches) raises `NotCompilable`;
it never yields a weaker filter. No branch at all compiles to `{tenant: {$in: []}}`.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from authz.conditions import (
    MAX_BRANCHES,
    NEGATED,
    AllOf,
    AnyOf,
    Caller,
    Held,
    Meaning,
    Not,
    NowPlus,
    Term,
)
from authz.model import Principal
from authz.plan import Branch, Plan

_OPERATOR = {
    "ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte",
    "in": "$in", "nin": "$nin",
}  # fmt: skip
Conjunction = list[tuple[str, Any]]  # (path, MongoDB condition) pairs, all required


class NotCompilable(ValueError):
    """A plan that no MongoDB filter can express here: an error, never a weaker filter."""


def nothing(tenant: str) -> dict[str, Any]:
    """The filter that matches no document."""
    return {tenant: {"$in": []}}


def compile_filter(
    plans: Iterable[tuple[ObjectId, Plan]],
    principal: Principal,
    tenant: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The filter of every resource on which one of the plans (one per company) holds."""
    now = now or datetime.now(UTC)
    whole: list[ObjectId] = []
    shapes: dict[str, tuple[Conjunction, list[ObjectId]]] = {}
    for company, plan in plans:
        if plan.kind == "denied":
            continue
        if plan.kind == "allowed":
            whole.append(company)
            continue
        for conjunction in _company_branches(plan, principal, company, now):
            key = repr(conjunction)
            shapes.setdefault(key, (conjunction, []))[1].append(company)
    branches: list[dict[str, Any]] = []
    if whole:
        branches.append({tenant: one_or_in(whole)})
    covered = set(whole)
    for conjunction, companies in shapes.values():
        rest = [c for c in companies if c not in covered]
        if rest:
            branches.append(_document(tenant, rest, conjunction))
    if not branches:
        return nothing(tenant)
    return branches[0] if len(branches) == 1 else {"$or": branches}


def _company_branches(
    plan: Plan, principal: Principal, company: ObjectId, now: datetime
) -> list[Conjunction]:
    """One company's plan, as conjunctions of bound comparisons (disjunctive form)."""
    found: list[Conjunction] = []
    for branch in plan.branches:
        for conjunction in _dnf(_meaning(branch), principal, company, now):
            conjunction = _distinct(conjunction)
            if not conjunction:  # the branch holds on every resource of the company
                return [[]]
            if conjunction not in found:
                found.append(conjunction)
        if len(found) > MAX_BRANCHES:
            raise NotCompilable(f"{plan.permission} compiles to more than {MAX_BRANCHES} branches")
    return _absorbed(found)


def _distinct(conjunction: Conjunction) -> Conjunction:
    """A conjunction without a comparison made twice."""
    kept: Conjunction = []
    for comparison in conjunction:
        if comparison not in kept:
            kept.append(comparison)
    return kept


def _absorbed(alternatives: list[Conjunction]) -> list[Conjunction]:
    """Alternatives without those another one already covers: `a or (a and b)` is `a` (an
    assignee's branch absorbs the same branch narrowed by a condition it satisfies)."""
    return [
        alt
        for alt in alternatives
        if not any(
            other is not alt and len(other) < len(alt) and all(c in alt for c in other)
            for other in alternatives
        )
    ]


def _meaning(branch: Branch) -> Meaning:
    parts = ([branch.reach] if branch.reach is not None else []) + [r.meaning for r in branch.rules]
    return AllOf(tuple(parts))


def _dnf(
    meaning: Meaning, principal: Principal, company: ObjectId, now: datetime
) -> list[Conjunction]:
    """Disjunctive normal form: a list of alternatives (empty: never), each a list of
    comparisons (empty: always)."""
    if isinstance(meaning, Not):
        return _dnf(_negate(meaning.item), principal, company, now)
    if isinstance(meaning, AnyOf):
        found: list[Conjunction] = []
        for item in meaning.items:
            found += _dnf(item, principal, company, now)
            if len(found) > MAX_BRANCHES:
                raise NotCompilable(f"a condition compiles to more than {MAX_BRANCHES} branches")
        return found
    if isinstance(meaning, AllOf):
        product: list[Conjunction] = [[]]
        for item in meaning.items:
            alternatives = _dnf(item, principal, company, now)
            product = [left + right for left in product for right in alternatives]
            if len(product) > MAX_BRANCHES:
                raise NotCompilable(f"a condition compiles to more than {MAX_BRANCHES} branches")
        return product
    return _comparison(meaning, principal, company, now)


def _negate(meaning: Meaning) -> Meaning:
    if isinstance(meaning, Term):
        return Term(
            meaning.kind, meaning.name, meaning.path, NEGATED[meaning.op], meaning.value,
            meaning.new, meaning.many,
        )  # fmt: skip
    if isinstance(meaning, Not):
        return meaning.item
    items = tuple(_negate(m) for m in meaning.items)
    return AnyOf(items) if isinstance(meaning, AllOf) else AllOf(items)


def _comparison(
    term: Meaning, principal: Principal, company: ObjectId, now: datetime
) -> list[Conjunction]:
    """One bound comparison, in disjunctive form: `[[(path, MongoDB condition)]]`, or `[]`
    when it can never hold, `[[]]` when it always does."""
    if not isinstance(term, Term):
        raise NotCompilable(f"unexpected part of a plan: {term!r}")
    if term.new:
        raise NotCompilable(f"new.{term.name} is known only to a write, not to a filter")
    if term.kind == "caller":
        raise NotCompilable(f"caller.{term.name} was not resolved")
    value: Any = term.value
    op = term.op
    if isinstance(value, Caller):
        value = principal.user_id
    elif isinstance(value, NowPlus):
        value = now + value.offset
    elif isinstance(value, Held):
        held = sorted(principal.holding(value.resource_type, value.role, company))
        if not held:
            return [] if op == "in" else [[]]
        if len(held) == 1:  # equality: what more servers push down
            return [[(term.path, held[0] if op == "in" else {"$ne": held[0]})]]
        value = held
    elif isinstance(value, tuple):
        value = list(value)
    if op == "eq":
        return [[(term.path, value)]]
    if op in _OPERATOR:
        return [[(term.path, {_OPERATOR[op]: value})]]
    base = _OPERATOR[op[1:]]  # nlt, nlte, ngt, ngte: also where the value is missing
    return [[(term.path, {"$not": {base: value}})]]


def _document(
    tenant: str, companies: Sequence[ObjectId], conjunction: Conjunction
) -> dict[str, Any]:
    """A branch as a filter document led by the tenant; a path named twice goes to `$and`."""
    doc: dict[str, Any] = {tenant: one_or_in(companies)}
    again: list[dict[str, Any]] = []
    for path, condition in conjunction:
        if path in doc:
            again.append({path: condition})
        else:
            doc[path] = condition
    if again:
        doc["$and"] = again
    return doc


def one_or_in(values: Sequence[ObjectId]) -> Any:
    """Equality for one value (pushed down by more servers), `$in` for several."""
    return values[0] if len(values) == 1 else {"$in": list(values)}
