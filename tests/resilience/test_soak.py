"""The soak (`scripts.soak`): a minute of mixed load from 16 clients while the database and
the API processes are killed and restarted, on the topology of the run (a replica set, then
a standalone server in `make test`'s second pass); then nothing acknowledged is lost, the
verifier finds nothing, and every list equals what the records allow. And its checks can
fail: a lost acknowledged write, a refused one that is there, a value not written last."""

import asyncio
import os
import sys

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from models import User
from scripts import soak
from scripts.devdb.process import ROOT
from tests.utils.factories import World

pytestmark = [pytest.mark.slow, pytest.mark.topologies]


async def test_a_minute_under_fire_loses_nothing_and_breaks_nothing() -> None:
    command = [sys.executable, "-m", "scripts.soak", "--minutes", "1"]
    command += ["--db-kill-every", "25", "--api-kill-every", "18"]
    if os.environ.get("DEVDB_TOPOLOGY") == "standalone":
        command.append("--standalone")
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}  # the soak's own
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await asyncio.wait_for(proc.communicate(), 300))[0].decode()
    assert proc.returncode == 0, out
    assert "2 database kills, 3 API kills" in out, out
    assert "0 lost or wrong" in out and "0 verifier violations, 0 isolation differences" in out
    assert " 500 x" not in out


def test_a_value_may_be_the_last_acknowledged_or_a_later_unanswered_attempt() -> None:
    attempts = [
        soak.Attempt("a", 201),
        soak.Attempt("b", 200),
        soak.Attempt("c", 422),  # refused: never the value
        soak.Attempt("d", soak.INDETERMINATE),  # may have happened
        soak.Attempt("e", 503),
    ]
    assert soak.allowed_values(attempts, None) == {"b", "d", "e"}
    assert soak.allowed_values([soak.Attempt("x", 404)], "initial") == {"initial"}


async def test_the_end_checks_see_a_lost_or_a_half_done_write(world: World) -> None:
    db: AsyncDatabase[dict[str, object]] = User.get_pymongo_collection().database
    lisa = await world.user("lisa")
    acme = await world.company(admin=lisa)
    kept = await world.ticket(acme, lisa, subject="kept")
    ledger = soak.Ledger()
    ledger.created = {str(kept.id): str(acme.id), "0" * 24: str(acme.id)}
    ledger.refused_subjects = {"kept"}
    ledger.values[("subject", str(kept.id))] = [soak.Attempt("kept", 201), soak.Attempt("new", 200)]
    checked, problems = await soak.lost_writes(db, ledger)
    assert checked == 4
    assert sorted(problems) == sorted(
        [
            f"acknowledged ticket {'0' * 24} is gone",
            "refused ticket 'kept' exists",
            f"subject of {kept.id} is 'kept', expected one of {{'new'}}",
        ]
    )
