"""A condition's meaning compiled into a Python test: the in-memory twin of `authz.mongo`.

`check` runs on every request, in bulk and for every subscriber of a change, so the
meaning (`authz.conditions`) is turned once, when a plan is built, into nested closures
that read the resource directly: no walk of the expression, no dispatch on its kind, per
decision. A test takes the principal, the resource, the resource as a write would leave it
(`after`, read by `new.` comparisons; None outside writes) and the clock (None: now).
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from authz.conditions import AllOf, AnyOf, Caller, Held, Meaning, Not, NowPlus, Term
from authz.model import Principal, Resource, names

Test = Callable[[Principal, Resource, Resource | None, datetime | None], bool]
Bound = Callable[[Principal, Resource, datetime | None], Any]


def always(_p: Principal, _r: Resource, _a: Resource | None, _n: datetime | None) -> bool:
    """The test of what holds on every resource."""
    return True


def never(_p: Principal, _r: Resource, _a: Resource | None, _n: datetime | None) -> bool:
    """The test of what holds on none."""
    return False


def predicate(meaning: Meaning | None) -> Test:
    """The test of `meaning` (None: always)."""
    if meaning is None:
        return always
    if isinstance(meaning, Term):
        return _term(meaning)
    if isinstance(meaning, Not):
        inner = predicate(meaning.item)
        return lambda p, r, a, n: not inner(p, r, a, n)
    tests = tuple(predicate(m) for m in meaning.items)
    if isinstance(meaning, AllOf):
        if not tests:
            return always
        if len(tests) == 1:
            return tests[0]
        return lambda p, r, a, n: all(t(p, r, a, n) for t in tests)
    assert isinstance(meaning, AnyOf)  # noqa: S101 - the meanings are a closed family
    if not tests:
        return never
    if len(tests) == 1:
        return tests[0]
    return lambda p, r, a, n: any(t(p, r, a, n) for t in tests)


def _term(term: Term) -> Test:
    name, op = term.name, term.op
    attribute = term.kind == "attribute"
    if isinstance(term.value, Caller) and not term.new and term.kind == "relation":
        # The commonest test by far (a creator, an assignee, a share): one look-up.
        if term.many:
            held: Test = lambda p, r, a, n: names(r.relations.get(name), p.user_id)  # noqa: E731
        else:
            held = lambda p, r, a, n: r.relations.get(name) == p.user_id  # noqa: E731
        return held if op == "eq" else lambda p, r, a, n: not held(p, r, a, n)
    bound = _bound(term)
    compare = _comparison(term)
    new = term.new

    def test(p: Principal, r: Resource, a: Resource | None, n: datetime | None) -> bool:
        source = a if new and a is not None else r
        value = (source.attributes if attribute else source.relations).get(name)
        return compare(value, bound(p, r, n))

    return test


def _bound(term: Term) -> Bound:
    """What the resource's value is compared with, bound at decision time when it must be."""
    value = term.value
    if isinstance(value, Caller):
        return lambda p, r, n: p.user_id
    if isinstance(value, Held):
        held = value
        return lambda p, r, n: p.holding(held.resource_type, held.role, r.company)
    if isinstance(value, NowPlus):
        offset = value.offset
        return lambda p, r, n: (n or datetime.now(UTC)) + offset
    return lambda p, r, n: value


def _comparison(term: Term) -> Callable[[Any, Any], bool]:
    op = term.op
    if op in ("eq", "ne"):
        if term.many:
            equal: Callable[[Any, Any], bool] = names
        elif term.value is True:  # a boolean attribute: missing is false
            equal = lambda value, bound: value is True  # noqa: E731
        else:
            equal = lambda value, bound: value == bound  # noqa: E731
        return equal if op == "eq" else lambda value, bound: not equal(value, bound)
    if op == "in":
        return lambda value, bound: value in bound
    if op == "nin":
        return lambda value, bound: value not in bound
    negated = op.startswith("n")
    order = _ORDER[op[1:] if negated else op]

    def ordered(value: Any, bound: Any) -> bool:
        result = value is not None and order(value, bound)
        return not result if negated else result  # like MongoDB's $not, true where missing

    return ordered


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda v, b: v < b,
    "lte": lambda v, b: v <= b,
    "gt": lambda v, b: v > b,
    "gte": lambda v, b: v >= b,
}
