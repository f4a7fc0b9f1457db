"""The synthetic data, generated in memory: users, tenants and their members by role,
memberships and groups with their access levels, tickets with replies and shares. No
database here: `scripts.synthetic` writes what this makes."""

import os
import random
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

PASSWORD = "demo-pass-2026"  # the demo tenants' password, so synthetic users can sign in
NAME_PREFIX = "Synthetic "
EMAIL_DOMAIN = "synthetic.example"
HISTORY_DAYS = 365

Doc = dict[str, Any]

IN_A_GROUP = 0.85  # the share of tickets routed to a group
CONFIDENTIAL = 0.03  # the share of confidential tickets (agents see them only when assigned)
_GROUP_NAMES = (
    "Billing",
    "Hardware",
    "Accounts",
    "Network",
    "Mobile",
    "Onboarding",
    "Security",
    "Integrations",
)

_PRODUCTS = (
    "Printer",
    "Laptop",
    "VPN",
    "Email",
    "Invoice",
    "Dashboard",
    "Mobile app",
    "Password reset",
    "Billing page",
    "Export",
    "Search",
    "Calendar sync",
)
_PROBLEMS = (
    "does not start",
    "is very slow",
    "shows an error",
    "lost my data",
    "cannot connect",
    "needs an upgrade",
    "charges twice",
    "times out",
    "looks broken",
    "keeps logging me out",
)
_DETAILS = (
    "It started this morning after the update.",
    "Several colleagues see the same thing.",
    "I already restarted it twice; no change.",
    "The error code is 0x{code:04X}.",
    "This blocks our month-end closing.",
    "Screenshots are attached to the previous email.",
)
_REPLIES = (
    "Thanks, we are looking into it.",
    "Could you send the exact error message?",
    "A fix is rolling out today.",
    "Still happening on my side.",
    "Works again, thank you!",
    "Please try clearing the cache.",
)
_NOTES = (
    "Known issue, linked to the incident of last week.",
    "Escalated to engineering.",
    "Customer on the premium plan: prioritise.",
    "Duplicate of an older ticket; keep open for now.",
)
# (status, weight) for tickets older than 30 days and for recent ones.
_OLD_STATUS = (("resolved", 85), ("in-progress", 10), ("open", 5))
_NEW_STATUS = (("open", 45), ("in-progress", 30), ("resolved", 25))
_PRIORITY = (("low", 25), ("normal", 50), ("high", 18), ("urgent", 7))


@dataclass
class Tenant:
    """One synthetic company: its members by role, the agents' access levels, its groups
    and who is in them."""

    index: int
    id: ObjectId
    admins: list[ObjectId] = field(default_factory=list)
    agents: list[ObjectId] = field(default_factory=list)
    customers: list[ObjectId] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    levels: dict[ObjectId, str] = field(default_factory=dict)  # agents not at `all`
    groups: list[ObjectId] = field(default_factory=list)
    members: dict[ObjectId, list[ObjectId]] = field(default_factory=dict)  # user -> groups
    _cached: dict[tuple[bool, ObjectId | None], list[ObjectId]] = field(default_factory=dict)

    @property
    def staff(self) -> list[ObjectId]:
        """Members tickets may be assigned to (admins and agents)."""
        return self.admins + self.agents

    def handlers(self, group: ObjectId | None) -> list[ObjectId]:
        """Staff who reach a ticket of `group` (None: of no group) without being assigned
        it: those with `all` access, and the agents scoped to groups who are in `group`."""
        return self._staff_for(group, assignable=False)

    def assignable(self, group: ObjectId | None) -> list[ObjectId]:
        """Staff the API lets a ticket of `group` be assigned to (the policy's
        `assigned_within`): those with `all` access, and for a ticket in a group the
        other agents who are in it (any staff, for a ticket in none)."""
        return self._staff_for(group, assignable=True)

    def _staff_for(self, group: ObjectId | None, assignable: bool) -> list[ObjectId]:
        found = self._cached.get((assignable, group))
        if found is None:
            found = [uid for uid in self.staff if self._reaches(uid, group, assignable)]
            self._cached[(assignable, group)] = found
        return found

    def _reaches(self, uid: ObjectId, group: ObjectId | None, assigned: bool) -> bool:
        level = self.levels.get(uid)
        if level is None:
            return True
        in_group = group in self.members.get(uid, ())
        if assigned:
            return group is None or in_group
        return level == "groups" and in_group


class Ids:
    """ObjectIds whose timestamp is a given time and whose order follows creation.

    Sorting newest first by `_id` (what every list does) then agrees with `created_at`
    and with ticket numbers, as it does for tickets created through the API.
    """

    def __init__(self) -> None:
        # Random start (not from the seeded generator): ids never repeat across runs.
        self._next = int.from_bytes(os.urandom(8)) >> 2

    def at(self, when: datetime) -> ObjectId:
        """A fresh id stamped with `when` (seconds)."""
        self._next += 1
        return ObjectId(struct.pack(">IQ", int(when.timestamp()), self._next))


def ms(when: datetime) -> datetime:
    """`when` truncated to milliseconds, as BSON stores it (like `models.utcnow`)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _role_counts(users_per_tenant: int) -> tuple[int, int, int]:
    """(admins, agents, customers) of one tenant: customers are the great majority, and
    there are four agents or more when the tenant is large enough (agents at each access
    level)."""
    admins = max(1, users_per_tenant // 50)
    agents = max(users_per_tenant // 8, min(4, (users_per_tenant - admins) // 2))
    return admins, agents, users_per_tenant - admins - agents


def users_and_tenants(
    rng: random.Random,
    ids: Ids,
    first: int,
    tenants: int,
    users_per_tenant: int,
    password_hash: str,
    now: datetime,
) -> tuple[list[Doc], list[Tenant]]:
    """Every user document, and each tenant's members by role (home tenant only)."""
    admins, agents, _ = _role_counts(users_per_tenant)
    users: list[Doc] = []
    result: list[Tenant] = []
    for t in range(first, first + tenants):
        created = ms(now - timedelta(days=HISTORY_DAYS + 30, hours=rng.randrange(24 * 30)))
        tenant = Tenant(t, ids.at(created), created_at=created)
        for i in range(users_per_tenant):
            role, n = (
                ("admin", i)
                if i < admins
                else ("agent", i - admins)
                if i < admins + agents
                else ("customer", i - admins - agents)
            )
            joined = ms(created + timedelta(minutes=i))
            uid = ids.at(joined)
            users.append(
                {
                    "_id": uid,
                    "username": f"t{t:04d}-{role}-{n}",
                    "email": f"{role}-{n}@t{t:04d}.{EMAIL_DOMAIN}",
                    "password_hash": password_hash,
                    "idp_subject": None,
                    "created_at": joined,
                    "updated_at": joined,
                }
            )
            members = (
                tenant.admins
                if role == "admin"
                else tenant.agents
                if role == "agent"
                else tenant.customers
            )
            members.append(uid)
        result.append(tenant)
    return users, result


def _cross_memberships(
    tenants: list[Tenant], users_per_tenant: int
) -> list[tuple[int, ObjectId, str]]:
    """A few users who belong to other tenants too, with a different role there.

    Per tenant: its first agent is a customer of the next tenant, its first customers are
    agents there, and (with three tenants or more) its first customer is also a customer
    of the tenant after that: a user with three roles in three companies.
    """
    if len(tenants) < 2:
        return []
    extra: list[tuple[int, ObjectId, str]] = []
    k = max(1, users_per_tenant // 100)
    n = len(tenants)
    for pos, tenant in enumerate(tenants):
        nxt = (pos + 1) % n
        extra.append((nxt, tenant.agents[0], "customer"))
        extra.extend((nxt, uid, "agent") for uid in tenant.customers[:k])
        if n >= 3:
            extra.append(((pos + 2) % n, tenant.customers[0], "customer"))
    return extra


def organise(ids: Ids, tenants: list[Tenant], users_per_tenant: int) -> tuple[list[Doc], list[Doc]]:
    """Every membership (home tenant, then the cross-tenant ones) and group, with its
    members; the tenants learn their extra members, groups and access levels."""
    roles = [
        (tenant, uid, role)
        for tenant in tenants
        for role, members in (
            ("admin", tenant.admins),
            ("agent", tenant.agents),
            ("customer", tenant.customers),
        )
        for uid in members
    ]
    for pos, uid, role in _cross_memberships(tenants, users_per_tenant):
        tenant = tenants[pos]
        roles.append((tenant, uid, role))
        (tenant.agents if role == "agent" else tenant.customers).append(uid)
    groups = [group for tenant in tenants for group in _groups_and_levels(ids, tenant)]
    memberships = [_membership(t, uid, role, t.levels.get(uid)) for t, uid, role in roles]
    return memberships, groups


def ticket(
    rng: random.Random,
    ids: Ids,
    tenant: Tenant,
    number: int,
    created: datetime,
    now: datetime,
    shared: bool,
) -> Doc:
    """One ticket document, with its replies; `shared` with another customer."""
    status = _pick(rng, _OLD_STATUS if now - created > timedelta(days=30) else _NEW_STATUS)
    creator = rng.choice(tenant.customers)
    group = rng.choice(tenant.groups) if tenant.groups and rng.random() < IN_A_GROUP else None
    assigned = None
    if rng.random() < (0.3 if status == "open" else 0.9):
        assigned = rng.choice(tenant.assignable(group))
    confidential = rng.random() < CONFIDENTIAL
    # Who works a confidential ticket: its assignee, or an admin (agents do not see it).
    workers = tenant.admins if confidential else tenant.handlers(group)
    replies: list[Doc] = []
    at = created
    for _ in range(rng.choices((0, 1, 2, 3), weights=(55, 25, 12, 8))[0]):
        at = ms(min(now, at + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))))
        internal = rng.random() < 0.3
        staff = assigned or rng.choice(workers)
        author = staff if internal or rng.random() < 0.5 else creator
        replies.append(
            {
                "id": ids.at(at),
                "author": author,
                "body": rng.choice(_NOTES if internal else _REPLIES),
                "internal": internal,
                "created_at": at,
            }
        )
    updated = at if replies else ms(min(now, created + timedelta(minutes=rng.randrange(1, 600))))
    product, problem = rng.choice(_PRODUCTS), rng.choice(_PROBLEMS)
    detail = rng.choice(_DETAILS).format(code=rng.randrange(0x10000))
    viewers = [_viewer(rng, tenant, creator)] if shared else []
    return {
        "_id": ids.at(created),
        "company": tenant.id,
        "number": number,
        "subject": f"{product} {problem}",
        "description": f"Our {product.lower()} {problem}. {detail}",
        "status": status,
        "priority": _pick(rng, _PRIORITY),
        "created_by": creator,
        "assigned_to": assigned,
        "group": group,
        "confidential": confidential,
        "viewers": viewers,
        "replies": replies,
        "created_at": created,
        "updated_at": max(updated, created),
    }


def ticket_times(rng: random.Random, count: int, now: datetime) -> Iterator[datetime]:
    """`count` creation times over the last year, oldest first (number order)."""
    start = now - timedelta(days=HISTORY_DAYS)
    span = (now - timedelta(minutes=5) - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    for offset in offsets:
        yield ms(start + timedelta(seconds=offset))


def _groups_and_levels(ids: Ids, tenant: Tenant) -> list[Doc]:
    """The tenant's groups with their members, and the agents' access levels (into
    `tenant`).

    Agent n is in group n (cycling through the groups) and, for odd n, in the next one
    too; one agent in three keeps `all` access, the others are scoped to their groups,
    except the last of four or more, who sees only what is assigned to them.
    """
    agents = tenant.agents
    count = min(len(_GROUP_NAMES), max(3, len(agents) // 10))
    at, admin = tenant.created_at, tenant.admins[0]
    groups: list[Doc] = [
        {
            "_id": ids.at(at),
            "company": tenant.id,
            "name": name,
            "created_by": admin,
            "members": [],
            "created_at": at,
            "updated_at": at,
        }
        for name in _GROUP_NAMES[:count]
    ]
    tenant.groups = [g["_id"] for g in groups]
    for n, uid in enumerate(agents):
        if n == len(agents) - 1 and len(agents) >= 4:
            tenant.levels[uid] = "assigned"
        elif n % 3:
            tenant.levels[uid] = "groups"
        mine = [n % count] + ([(n + 1) % count] if n % 2 else [])
        tenant.members[uid] = [tenant.groups[i] for i in mine]
        for i in mine:
            groups[i]["members"].append(uid)
    return groups


def _membership(tenant: Tenant, user: ObjectId, role: str, level: str | None) -> Doc:
    joined = tenant.created_at
    return {
        "_id": ObjectId(),
        "user": user,
        "company": tenant.id,
        "role": role,
        "ticket_access": level,
        "created_by": tenant.admins[0],
        "created_at": joined,
        "updated_at": joined,
    }


def _viewer(rng: random.Random, tenant: Tenant, creator: ObjectId) -> ObjectId:
    """Another customer of the tenant, for a ticket to be shared with."""
    viewer = rng.choice(tenant.customers)
    while viewer == creator:  # terminates: the tenant has two customers or more
        viewer = rng.choice(tenant.customers)
    return viewer
