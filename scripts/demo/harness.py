"""The demo's HTTP harness: personas signed in, requests made as them, and each outcome
checked against what the policy predicts and told, a surprise recorded when it differs."""

from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.demo import PASSWORD, PERSONAS, Persona
from scripts.seed import memberships_of

ACME, GLOBEX = "Acme Corp", "Globex Inc"


class Abort(Exception):
    """A step the rest of the story depends on went wrong; the demo cannot go on."""


@dataclass
class Session:
    """A signed-in persona: their token, id and companies (name -> (id, role))."""

    persona: Persona
    token: str
    user_id: str = ""
    companies: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The persona's first name."""
        return self.persona.name

    @property
    def headers(self) -> dict[str, str]:
        """The bearer header."""
        return {"Authorization": f"Bearer {self.token}"}

    def company_id(self, name: str) -> str:
        """The id of one of this persona's companies."""
        return self.companies[name][0]


@dataclass
class Pending:
    """What the story changed and has not put back yet: undone if it stops half-way."""

    ticket: str | None = None  # the ticket Lisa opens (Sara deletes it)
    member: str | None = None  # Nina, whom Sara adds to Acme (and removes)
    scoped: str | None = None  # Emma, whose ticket access John narrows to `groups`
    moved: str | None = None  # David's ticket, which John moves into Sales


class Demo:
    """The story's state: the client, what was learnt along the way, and the surprises."""

    def __init__(self, client: httpx.AsyncClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.surprises: list[str] = []
        self.names: dict[str, str] = {}  # ids -> readable names, for the printed reasons
        self.sessions: dict[str, Session] = {}
        self.pending = Pending()

    # -- talking to the server ------------------------------------------------------------

    async def call(
        self,
        who: Session | None,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request, as `who` (anonymous when None)."""
        return await self.client.request(
            method, path, json=json, params=params, headers=who.headers if who else None
        )

    async def tickets(self, who: Session, **params: Any) -> list[dict[str, Any]]:
        """Every ticket `who` may see, following `next_cursor` to the end."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 200, **params}
        while True:
            r = await self.call(who, "GET", "/tickets", params=query)
            if r.status_code != 200:
                self.surprise(f"{who.name} lists tickets: expected 200, got {said(r)}")
                raise Abort(f"{who.name} cannot list tickets")
            page = r.json()
            items += page["items"]
            if page["next_cursor"] is None:
                return items
            query["cursor"] = page["next_cursor"]

    # -- checking and telling --------------------------------------------------------------

    def surprise(self, text: str) -> None:
        """Record and show an outcome the policy did not predict."""
        self.surprises.append(text)
        self.console.print(f"    [bold red]✗ SURPRISE[/] {self.readable(text)}")

    def readable(self, text: str) -> str:
        """`text` with the ids the demo knows replaced by names, safe to print as markup."""
        for oid, name in self.names.items():
            text = text.replace(oid, name)
        return escape(text)

    def expect(
        self, what: str, r: httpx.Response, status: int, *, detail_has: str | None = None
    ) -> bool:
        """Check a response's status (and that its `detail` names `detail_has`)."""
        detail = detail_of(r)
        if r.status_code != status:
            self.surprise(f"{what}: expected {status}, got {said(r)}")
            return False
        if detail_has is not None and detail_has not in detail:
            self.surprise(
                f"{what}: {status} as expected, but the reason does not name "
                f"{detail_has!r}: {detail!r}"
            )
            return False
        if status >= 400:
            self.console.print(
                f"    [green]✓[/] {what}: [yellow]refused {status}[/] "
                f'[dim]"{self.readable(detail)}"[/]'
            )
        else:
            self.console.print(f"    [green]✓[/] {what}: {status}")
        return True

    def require(
        self, what: str, r: httpx.Response, status: int, *, detail_has: str | None = None
    ) -> Any:
        """Like `expect`, for a step the rest depends on: a surprise stops the demo.

        Returns the decoded body.
        """
        if not self.expect(what, r, status, detail_has=detail_has):
            raise Abort(what)
        return r.json() if r.content else None

    def verify(self, what: str, holds: bool, observed: object) -> bool:
        """Check a fact about a response's content."""
        if holds:
            self.console.print(f"    [green]✓[/] {what}")
        else:
            self.surprise(f"{what}: observed {observed}")
        return holds

    def act(self, who: Session, text: str) -> None:
        """Introduce one persona's turn."""
        roles = ", ".join(f"{role} of {c}" for c, (_, role) in who.companies.items())
        roles = roles or "in no company yet"
        self.console.rule(f"[bold]{who.name}[/] ({roles}) {text}")

    def show(self, who: Session, tickets: list[dict[str, Any]]) -> None:
        """A table of the tickets `who` sees."""
        table = Table(title=f"What {who.name} sees: {len(tickets)} ticket(s)", title_justify="left")
        for column in ("company", "#", "subject", "status", "priority", "opened by", "assignee"):
            table.add_column(column)
        for t in sorted(tickets, key=lambda t: (self.names.get(t["company_id"], ""), t["number"])):
            table.add_row(
                self.names.get(t["company_id"], t["company_id"]),
                str(t["number"]),
                escape(t["subject"]),
                t["status"],
                t["priority"],
                self.names.get(t["created_by"], t["created_by"]),
                self.names.get(t["assigned_to"] or "", t["assigned_to"] or "-"),
            )
        self.console.print(table)

    # -- the personas ----------------------------------------------------------------------

    async def sign_in(self, p: Persona) -> Session:
        """Log in as `p` and learn their id and companies from /auth/me."""
        r = await self.call(
            None, "POST", "/auth/login", json={"email": p.email, "password": PASSWORD}
        )
        if r.status_code != 200:
            self.surprise(f"{p.name} signs in: expected 200, got {said(r)}")
            raise Abort(f"{p.name} cannot sign in: are the demo tenants seeded (`make seed`)?")
        s = Session(p, r.json()["access_token"])
        me = self.require(f"{p.name} asks who they are", await self.call(s, "GET", "/auth/me"), 200)
        s.user_id = me["id"]
        s.companies = {m["company_name"]: (m["company_id"], m["role"]) for m in me["memberships"]}
        self.names[s.user_id] = p.name
        for company, (cid, _) in s.companies.items():
            self.names[cid] = company
        expected = {c: r for c, r in memberships_of(p.username).items()}
        actual = {c: role for c, (_, role) in s.companies.items()}
        if actual != expected:
            self.surprise(f"{p.name}'s companies and roles: expected {expected}, got {actual}")
            raise Abort("the demo tenants differ from the seed's: run `make seed`")
        return s

    async def check_counts(self, when: str) -> dict[str, list[dict[str, Any]]]:
        """Each persona's tickets; the counts must be the seed's (1, 2, 3, 1, 2, 2, 0)."""
        seen = {p.username: await self.tickets(self.sessions[p.username]) for p in PERSONAS}
        table = Table(title=f"Tickets each persona sees {when}", title_justify="left")
        for column in ("persona", "email", "companies and roles", "sees", "expected"):
            table.add_column(column)
        wrong = []
        for p in PERSONAS:
            s = self.sessions[p.username]
            roles = ", ".join(f"{c}: {role}" for c, (_, role) in s.companies.items())
            roles = roles or "none yet"
            count = len(seen[p.username])
            mark = "" if count == p.sees else " [red]✗[/]"
            table.add_row(p.name, p.email, roles, f"{count}{mark}", str(p.sees))
            if count != p.sees:
                wrong.append(f"{p.name} {count} (expected {p.sees})")
        self.console.print(table)
        if wrong:
            self.surprise(f"ticket counts {when}: " + ", ".join(wrong))
        return seen


def detail_of(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def said(r: httpx.Response) -> str:
    detail = detail_of(r)
    return f"{r.status_code} {detail!r}" if detail else str(r.status_code)
