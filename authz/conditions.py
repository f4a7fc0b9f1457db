"""The policy's condition language: a few words a helpdesk manager can read.

    not confidential or assignee == caller
    status != 'resolved'
    new.priority != 'urgent' or caller.role == 'admin'
    created_at > now - 30d and status in ['open', 'in-progress']

A condition compares a resource's attribute (`status`), relation (`assignee`, a user) or
parent (`group`) with a literal, with the caller (`caller`, or `caller.role` and
`caller.access` in the resource's company) or with a time relative to now (`now - 30d`),
and combines comparisons with `and`, `or`, `not` and parentheses. A boolean attribute
alone is a comparison with `true`. In a condition on writing fields, `new.<attribute>` is
the value the write would leave.

`parse` turns the text into a syntax tree; `resolve` checks it against one resource type
of the policy and turns it into the engine's expression (`authz.plan`), so a condition that
names an unknown attribute, compares incomparable things or says something no filter can
express is refused when the policy loads, never at the first request.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from authz.policy import Attribute, ResourceType

# -- syntax ------------------------------------------------------------------------------------

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Name:
    """A dotted name: `status`, `caller`, `caller.role`, `new.priority`."""

    parts: tuple[str, ...]
    at: int

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Value:
    """A literal, or a list of them."""

    value: Scalar | tuple[Scalar, ...]
    at: int


@dataclass(frozen=True, slots=True)
class Now:
    """`now`, `now - 30d`, `now + 2h`."""

    offset: timedelta
    at: int


Operand = Name | Value | Now


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`."""

    left: Operand
    op: str
    right: Operand
    at: int


@dataclass(frozen=True, slots=True)
class Truth:
    """A name used alone, as `confidential`: a boolean attribute that is true."""

    name: Name


@dataclass(frozen=True, slots=True)
class Junction:
    """`a and b and ...`, `a or b or ...`."""

    op: Literal["and", "or"]
    items: tuple["Syntax", ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """`not x`."""

    item: "Syntax"


Syntax = Compare | Truth | Junction | Negation


class ConditionError(ValueError):
    """A condition that cannot be read or does not fit its resource type."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^']*'|"[^"]*")
      | (?P<duration>\d+[dhms]\b)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.|\+|-)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "now"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise ConditionError(f"at column {pos + 1}: cannot read {text[pos:].strip()[:12]!r}")
        found.append(_Token(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup) + 1))
        pos = m.end()
    return found


class _Parser:
    """Recursive descent over the grammar in the module's docstring."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _is(self, text: str) -> bool:
        token = self._peek()
        return token is not None and token.text == text and token.kind in ("op", "word")

    def _take(self, text: str) -> _Token:
        token = self._peek()
        if token is None or token.text != text:
            where = f"at column {token.at}" if token else "at the end"
            raise ConditionError(f"{where}: expected {text!r}")
        self.pos += 1
        return token

    def parse(self) -> Syntax:
        if not self.tokens:
            raise ConditionError("the condition is empty")
        tree = self._or()
        token = self._peek()
        if token is not None:
            raise ConditionError(f"at column {token.at}: unexpected {token.text!r}")
        return tree

    def _or(self) -> Syntax:
        items = [self._and()]
        while self._is("or"):
            self.pos += 1
            items.append(self._and())
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def _and(self) -> Syntax:
        items = [self._not()]
        while self._is("and"):
            self.pos += 1
            items.append(self._not())
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def _not(self) -> Syntax:
        if self._is("not"):
            self.pos += 1
            return Negation(self._not())
        if self._is("("):
            self.pos += 1
            inner = self._or()
            self._take(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Syntax:
        left = self._operand()
        token = self._peek()
        op = None
        if token is not None and token.text in ("==", "!=", "<", "<=", ">", ">=", "in"):
            op = token.text
            self.pos += 1
        elif (
            self._is("not")
            and self.tokens[self.pos + 1 : self.pos + 2] != []
            and (self.tokens[self.pos + 1].text == "in")
        ):
            op = "not in"
            self.pos += 2
        if op is None:
            if not isinstance(left, Name):
                raise ConditionError(f"at column {left.at}: a value alone is not a condition")
            return Truth(left)
        assert token is not None  # noqa: S101 - an operator was read
        return Compare(left, op, self._operand(), token.at)

    def _operand(self) -> Operand:
        token = self._peek()
        if token is None:
            raise ConditionError("at the end: expected a name or a value")
        self.pos += 1
        if token.kind == "string":
            return Value(token.text[1:-1], token.at)
        if token.kind == "number":
            return Value(float(token.text) if "." in token.text else int(token.text), token.at)
        if token.text == "[":
            return self._list(token.at)
        if token.kind == "word":
            if token.text in ("true", "false"):
                return Value(token.text == "true", token.at)
            if token.text == "null":
                return Value(None, token.at)
            if token.text == "now":
                return self._now(token.at)
            if token.text in _KEYWORDS:
                raise ConditionError(f"at column {token.at}: unexpected {token.text!r}")
            parts = [token.text]
            while self._is("."):
                self.pos += 1
                part = self._peek()
                if part is None or part.kind != "word":
                    raise ConditionError(f"at column {token.at}: a name cannot end with '.'")
                parts.append(part.text)
                self.pos += 1
            return Name(tuple(parts), token.at)
        raise ConditionError(f"at column {token.at}: unexpected {token.text!r}")

    def _list(self, at: int) -> Value:
        values: list[Scalar] = []
        while not self._is("]"):
            item = self._operand()
            if not isinstance(item, Value) or isinstance(item.value, tuple):
                raise ConditionError(f"at column {item.at}: a list holds literals only")
            values.append(item.value)
            if not self._is("]"):
                self._take(",")
        self._take("]")
        return Value(tuple(values), at)

    def _now(self, at: int) -> Now:
        sign = 1 if self._is("+") else -1 if self._is("-") else 0
        if not sign:
            return Now(timedelta(0), at)
        self.pos += 1
        token = self._peek()
        if token is None or token.kind != "duration":
            raise ConditionError(f"at column {at}: expected a duration after now (30d, 2h, 15m)")
        self.pos += 1
        amount, unit = int(token.text[:-1]), token.text[-1]
        return Now(sign * timedelta(**{_UNITS[unit]: amount}), at)


def parse(text: str) -> Syntax:
    """The syntax tree of a condition; `ConditionError` saying where it cannot be read."""
    return _Parser(text).parse()


# -- meaning -----------------------------------------------------------------------------------

# The operators a resolved comparison uses; `n...` are the negations of the ordering ones,
# which (like MongoDB's `$not`) hold where the value is missing.
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "nlt", "nlte", "ngt", "ngte", "in", "nin")
_OP_OF = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "in": "in"}
_OP_OF["not in"] = "nin"
NEGATED = {
    "eq": "ne", "ne": "eq", "lt": "nlt", "nlt": "lt", "lte": "nlte", "nlte": "lte",
    "gt": "ngt", "ngt": "gt", "gte": "ngte", "ngte": "gte", "in": "nin", "nin": "in",
}  # fmt: skip
_MIRROR = {"eq": "eq", "ne": "ne", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller's user id, bound when the condition is evaluated or compiled."""


@dataclass(frozen=True, slots=True)
class NowPlus:
    """Now, plus an offset: bound to the clock when evaluated or compiled."""

    offset: timedelta


@dataclass(frozen=True, slots=True)
class Held:
    """The ids of the `resource_type` resources of the resource's company on which the
    caller holds `role`: how an access level reaches through a parent (`group#member`).
    Written by the policy's access levels, not by condition text."""

    resource_type: str
    role: str


Bound = Scalar | tuple[Scalar, ...] | Caller | NowPlus | Held


@dataclass(frozen=True, slots=True)
class Term:
    """A resolved comparison: the resource's `kind` `name` (at document `path`), or the
    caller's own fact (`caller.role`, `caller.access`: known as soon as their membership
    is), compared by `op` with `value`. `new` terms read the value a write would leave;
    `many` relations hold a list of users (`eq` means: holds the caller)."""

    kind: Literal["attribute", "relation", "parent", "caller"]
    name: str
    path: str
    op: str
    value: Bound
    new: bool = False
    many: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every item holds."""

    items: tuple["Meaning", ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one item holds."""

    items: tuple["Meaning", ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The item does not hold."""

    item: "Meaning"


Meaning = Term | AllOf | AnyOf | Not


@dataclass(frozen=True)
class Context:
    """What a condition may name: one resource type, the policy's roles and levels, and
    whether it is about writing (`new.` allowed)."""

    rtype: "ResourceType"
    roles: Sequence[str]
    levels: Sequence[str]
    writes: bool


def resolve(tree: Syntax, ctx: Context) -> Meaning:
    """Check `tree` against `ctx` and give its meaning; `ConditionError` otherwise."""
    if isinstance(tree, Junction):
        items = tuple(resolve(item, ctx) for item in tree.items)
        return AllOf(items) if tree.op == "and" else AnyOf(items)
    if isinstance(tree, Negation):
        return Not(resolve(tree.item, ctx))
    if isinstance(tree, Truth):
        return _compare(Compare(tree.name, "==", Value(True, tree.name.at), tree.name.at), ctx)
    return _compare(tree, ctx)


def _compare(tree: Compare, ctx: Context) -> Meaning:
    left, right, op = tree.left, tree.right, _OP_OF[tree.op]
    if not isinstance(left, Name) and isinstance(right, Name):
        left, right = right, left
        if op not in _MIRROR:
            raise ConditionError(f"at column {tree.at}: write the name before `{tree.op}`")
        op = _MIRROR[op]
    if not isinstance(left, Name):
        raise ConditionError(f"at column {tree.at}: compare a name with a value, not two values")
    if isinstance(right, Name) and str(right) != "caller":
        raise ConditionError(
            f"at column {tree.at}: compare {left} with a literal, the caller or now, "
            f"not with {right}"
        )
    subject = _subject(left, ctx)
    kind, name, path = subject[0], subject[1], subject[2]
    attribute: Attribute | None = subject[3]
    if kind == "caller":
        return _caller_fact(name, op, right, ctx, tree.at)
    if kind in ("relation", "parent"):
        return _relation(kind, name, path, op, right, ctx, tree.at, str(left).startswith("new."))
    assert attribute is not None  # noqa: S101 - an attribute subject has its declaration
    value = _attribute_value(attribute, name, op, right, right.at)  # where the value is
    if attribute.type == "bool":
        # false and missing are one: `x == true` or its negation, as MongoDB's `$ne: true`
        truth = value is True
        op = "eq" if (op == "eq") == truth else "ne"
        value = True
    return Term("attribute", name, path, op, value, new=str(left).startswith("new."))


def _subject(name: Name, ctx: Context) -> tuple[str, str, str, "Attribute | None"]:
    parts = name.parts
    new = parts[0] == "new"
    if new:
        if not ctx.writes:
            raise ConditionError(
                f"at column {name.at}: `new.` is for conditions on writing fields "
                "(give the condition `fields`)"
            )
        parts = parts[1:]
    if parts and parts[0] == "caller" and not new:
        if len(parts) == 1:
            raise ConditionError(
                f"at column {name.at}: compare the caller with a relation (assignee == caller)"
            )
        if len(parts) == 2 and parts[1] in ("role", "access"):
            return ("caller", parts[1], "", None)
        raise ConditionError(f"at column {name.at}: the caller has `role` and `access` only")
    rtype = ctx.rtype
    if len(parts) == 1:
        key = parts[0]
        if key in rtype.attributes:
            return ("attribute", key, rtype.attributes[key].path, rtype.attributes[key])
        if key in rtype.relations:
            return ("relation", key, rtype.relations[key], None)
        if key in rtype.parents:
            return ("parent", key, rtype.parents[key], None)
    known = sorted({*rtype.attributes, *rtype.relations, *rtype.parents})
    raise ConditionError(
        f"at column {name.at}: {rtype.name} has no attribute or relation {str(name)!r} "
        f"(it has: {', '.join(known)})"
    )


def _caller_fact(fact: str, op: str, right: Operand, ctx: Context, at: int) -> Meaning:
    names = ctx.roles if fact == "role" else ctx.levels
    if op not in ("eq", "ne", "in", "nin") or not isinstance(right, Value):
        raise ConditionError(f"at column {at}: compare caller.{fact} with ==, !=, in")
    values = right.value if isinstance(right.value, tuple) else (right.value,)
    unknown = [v for v in values if v not in names]
    if unknown or (op in ("in", "nin")) != isinstance(right.value, tuple):
        raise ConditionError(
            f"at column {at}: caller.{fact} is one of {', '.join(names)} "
            f"(not {unknown or right.value})"
        )
    literal: Bound = right.value
    return Term("caller", fact, "", op, literal)


def _relation(
    kind: str, name: str, path: str, op: str, right: Operand, ctx: Context, at: int, new: bool
) -> Meaning:
    if op not in ("eq", "ne"):
        raise ConditionError(f"at column {at}: compare {name} with == or != only")
    if isinstance(right, Name):  # the caller (checked by the caller of this function)
        if kind == "parent":
            raise ConditionError(f"at column {at}: {name} is a {name}, not a user")
        value: Bound = Caller()
    elif isinstance(right, Value) and right.value is None:
        value = None
    else:
        what = "the caller or null" if kind == "relation" else "null"
        raise ConditionError(f"at column {at}: compare {name} with {what}")
    many = kind == "relation" and name in ctx.rtype.many
    if many and value is None:
        raise ConditionError(f"at column {at}: {name} holds many users: compare it with the caller")
    return Term("relation" if kind == "relation" else "parent", name, path, op, value, new, many)


def _attribute_value(attr: "Attribute", name: str, op: str, right: Operand, at: int) -> Bound:
    if isinstance(right, Now):
        if attr.type != "time":
            raise ConditionError(f"at column {at}: {name} is not a time")
        if op not in ("lt", "lte", "gt", "gte"):
            raise ConditionError(f"at column {at}: compare a time with <, <=, > or >=")
        return NowPlus(right.offset)
    if isinstance(right, Name):
        raise ConditionError(f"at column {at}: {name} is not a user: compare it with a value")
    value = right.value
    listed = isinstance(value, tuple)
    if (op in ("in", "nin")) != listed:
        raise ConditionError(f"at column {at}: `in` takes a list, and a list needs `in`")
    values = value if isinstance(value, tuple) else (value,)
    if attr.type == "bool":
        if op not in ("eq", "ne") or not all(isinstance(v, bool) for v in values):
            raise ConditionError(f"at column {at}: {name} is true or false")
    elif attr.type == "time":
        if not all(v is None for v in values) or op not in ("eq", "ne"):
            raise ConditionError(f"at column {at}: compare {name} with now (now - 30d) or null")
    elif attr.type == "text":
        if op not in ("eq", "ne", "in", "nin"):
            raise ConditionError(f"at column {at}: compare {name} with ==, != or in")
        unknown = [v for v in values if v is not None and v not in attr.values]
        if attr.values and unknown:
            raise ConditionError(
                f"at column {at}: {name} has no value {unknown[0]!r} "
                f"(it may be: {', '.join(attr.values)})"
            )
        if not all(v is None or isinstance(v, str) for v in values):
            raise ConditionError(f"at column {at}: {name} is text: compare it with '...'")
    elif attr.type == "number" and not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    ):
        raise ConditionError(f"at column {at}: {name} is a number")
    return value


def names_new(meaning: Meaning) -> bool:
    """Whether a meaning reads a value a write would leave."""
    if isinstance(meaning, Term):
        return meaning.new
    if isinstance(meaning, Not):
        return names_new(meaning.item)
    return any(names_new(m) for m in meaning.items)


MAX_BRANCHES = 64
"""Filter branches one company's plan may compile to: a condition that could need more is
refused when the policy loads, and a plan that would is refused rather than sent."""


def branches_at_most(meaning: Meaning, negated: bool = False) -> int:
    """How many filter branches `meaning` can compile to (its disjunctive form, negations
    pushed down to the comparisons): an `or` adds its items' counts, an `and` multiplies
    them."""
    if isinstance(meaning, Term):
        return 1
    if isinstance(meaning, Not):
        return branches_at_most(meaning.item, not negated)
    counts = [branches_at_most(m, negated) for m in meaning.items]
    if isinstance(meaning, AnyOf) != negated:  # an `or`, or a negated `and`
        return sum(counts)
    product = 1
    for count in counts:
        product *= count
    return product
