"""What operators watch: the request id (echoed, and on the audit record), the Prometheus
metrics at /metrics, and JSON log lines carrying the request id."""

import json
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.observability import REQUEST_ID_HEADER, UNMATCHED
from tests.utils.factories import World
from tests.utils.instances import worker


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of metric `name` in an exposition, by their labels."""
    return {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_a_request_id_is_taken_or_made_and_always_sent_back(
    client: httpx.AsyncClient,
) -> None:
    given = uuid.uuid4().hex
    r = await client.get("/healthz", headers={REQUEST_ID_HEADER: given})
    assert r.headers[REQUEST_ID_HEADER] == given
    made = (await client.get("/healthz")).headers[REQUEST_ID_HEADER]
    assert uuid.UUID(made)
    # Not a UUID (here, an attempt to write a line into the logs): replaced, never echoed.
    r = await client.get("/healthz", headers={REQUEST_ID_HEADER: "x\nforged log line"})
    assert uuid.UUID(r.headers[REQUEST_ID_HEADER])
    assert (await client.get("/no-such-route")).headers[REQUEST_ID_HEADER]


async def test_the_audit_record_names_the_request_that_caused_it(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    admin, agent = await world.user("sara"), await world.user("mark")
    acme = await world.company(admin=admin)
    await world.member(acme, agent, "agent")
    ticket = await world.ticket(acme, admin)
    denied_id = uuid.uuid4().hex
    r = await client.delete(
        f"/tickets/{ticket.id}", headers=world.auth(agent) | {REQUEST_ID_HEADER: denied_id}
    )
    assert r.status_code == 403
    await app.state.audit.flush()
    events = (await client.get(f"/companies/{acme.id}/audit", headers=world.auth(admin))).json()
    denial = next(e for e in events["items"] if e["action"] == "ticket:delete")
    assert (denial["allowed"], denial["request_id"]) == (False, denied_id)


async def test_metrics_count_requests_by_route_and_decisions_by_permission(
    client: httpx.AsyncClient, world: World
) -> None:
    admin, agent = await world.user("sara"), await world.user("mark")
    acme = await world.company(admin=admin)
    await world.member(acme, agent, "agent")
    ticket = await world.ticket(acme, admin)

    async def metrics() -> str:
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        return r.text

    before = await metrics()
    assert (await client.get(f"/tickets/{ticket.id}", headers=world.auth(agent))).status_code == 200
    assert (
        await client.delete(f"/tickets/{ticket.id}", headers=world.auth(agent))
    ).status_code == 403
    assert (await client.get(f"/tickets/{'f' * 24}/nope")).status_code == 404
    after = await metrics()

    def grew(name: str, **labels: str) -> float:
        key = frozenset(labels.items())
        return samples(after, name).get(key, 0) - samples(before, name).get(key, 0)

    requests = "ticketing_http_requests_total"
    assert grew(requests, method="GET", route="/tickets/{ticket_id}", status="200") == 1
    assert grew(requests, method="DELETE", route="/tickets/{ticket_id}", status="403") == 1
    assert grew(requests, method="GET", route=UNMATCHED, status="404") == 1
    decisions = "ticketing_authz_decisions_total"
    assert grew(decisions, permission="ticket:read", allowed="true") >= 1
    assert grew(decisions, permission="ticket:delete", allowed="false") == 1
    latency = "ticketing_http_request_duration_seconds_count"
    assert grew(latency, method="GET", route="/tickets/{ticket_id}") == 1


async def test_json_logs_carry_the_request_id(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    async with (
        worker(settings, log, args=["--log-format", "json"]) as url,
        httpx.AsyncClient(base_url=url) as api,
    ):
        given = uuid.uuid4().hex
        assert (await api.get("/healthz", headers={REQUEST_ID_HEADER: given})).status_code == 200
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("name") == "uvicorn.access"]
    mine = [entry for entry in access if entry["request_id"] == given]
    assert len(mine) == 1 and "GET /healthz" in mine[0]["message"], access
    assert all({"time", "levelname", "message", "request_id"} <= set(e) for e in lines)
