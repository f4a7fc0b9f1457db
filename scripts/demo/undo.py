"""What the demo changed and has not put back, undone: a run stopped half-way leaves the
tenants as the seed made them, so the next run starts from there."""

from typing import Any

from scripts.demo.harness import ACME, GLOBEX, Demo, said


async def undo(demo: Demo) -> None:
    """Put back what a stopped run left behind, so the next run starts from the seed."""
    for what, username, method, path, body in leftovers(demo):
        r = await demo.call(demo.sessions[username], method, path, json=body)
        if r.status_code not in (200, 204, 404):
            demo.surprise(f"clean-up: {what} failed: {said(r)}")


def leftovers(demo: Demo) -> list[tuple[str, str, str, str, Any]]:
    """The requests that undo `demo.pending` (what, as whom, method, path, body), in the
    order the story itself puts things back. Changes are made only once all are signed in."""
    pending, sessions = demo.pending, demo.sessions
    undo: list[tuple[str, str, str, str, Any]] = []
    if pending.moved:
        path = f"/tickets/{pending.moved}"
        undo.append(
            ("moving David's ticket out of Sales", "john", "PATCH", path, {"group_id": None})
        )
    if pending.scoped:
        path = f"/companies/{sessions['john'].company_id(GLOBEX)}/members/{pending.scoped}"
        undo.append(
            ("giving Emma all ticket access again", "john", "PATCH", path, {"ticket_access": "all"})
        )
    if pending.ticket:
        undo.append(
            ("deleting the demo ticket", "sara", "DELETE", f"/tickets/{pending.ticket}", None)
        )
    if pending.member:
        path = f"/companies/{sessions['sara'].company_id(ACME)}/members/{pending.member}"
        undo.append(("removing the demo member", "sara", "DELETE", path, None))
    return undo
