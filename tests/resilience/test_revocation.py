"""A right taken away is gone on the very next request, in every API process.

The caller's facts travel with their user document (`User.access`), read by each request
of each process: nothing is cached between requests. Each change is made through one
process and checked on the next request to the other, both ways round.
"""

import httpx
import pytest

from tests.utils.factories import Acme, World


@pytest.fixture
async def acme(world: World) -> Acme:
    """Admin Sara, agent Mark, customers Lisa and Carl; Lisa's ticket, shared with Carl."""
    return await world.acme(customers=("lisa", "carl"), ticket_by="lisa", shared_with=("carl",))


@pytest.mark.parametrize("direction", ["here, then there", "there, then here"])
async def test_a_role_change_is_effective_at_once_everywhere(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World, acme: Acme, direction: str
) -> None:
    changer, reader = (client, remote) if direction.startswith("here") else (remote, client)
    url = f"/tickets/{acme.ticket.id}"
    h = world.auth(acme.mark)
    assert (await reader.get(url, headers=h)).status_code == 200
    r = await changer.patch(
        f"/companies/{acme.company.id}/members/{acme.mark.id}",
        json={"role": "customer"},
        headers=world.auth(acme.sara),
    )
    assert r.status_code == 200, r.text
    assert (await reader.get(url, headers=h)).status_code == 404
    assert (await reader.get("/tickets", headers=h)).json()["items"] == []


@pytest.mark.parametrize("direction", ["here, then there", "there, then here"])
async def test_a_removal_is_effective_at_once_everywhere(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World, acme: Acme, direction: str
) -> None:
    changer, reader = (client, remote) if direction.startswith("here") else (remote, client)
    h = world.auth(acme.carl)
    assert len((await reader.get("/tickets", headers=h)).json()["items"]) == 1
    r = await changer.delete(
        f"/companies/{acme.company.id}/members/{acme.carl.id}", headers=world.auth(acme.sara)
    )
    assert r.status_code == 204, r.text
    assert (await reader.get("/tickets", headers=h)).json()["items"] == []
    assert (await reader.get(f"/tickets/{acme.ticket.id}", headers=h)).status_code == 404
    assert (await reader.get("/companies", headers=h)).json() == []


@pytest.mark.parametrize("direction", ["here, then there", "there, then here"])
async def test_an_unshare_is_effective_at_once_everywhere(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World, acme: Acme, direction: str
) -> None:
    changer, reader = (client, remote) if direction.startswith("here") else (remote, client)
    url = f"/tickets/{acme.ticket.id}"
    h = world.auth(acme.carl)
    assert (await reader.get(url, headers=h)).status_code == 200
    r = await changer.delete(f"{url}/viewers/{acme.carl.id}", headers=world.auth(acme.mark))
    assert r.status_code == 204, r.text
    assert (await reader.get(url, headers=h)).status_code == 404
    assert (await reader.get("/tickets", headers=h)).json()["items"] == []
