"""Walk the demo personas through a running API, and fail loudly on any surprise.

`make demo` is two things at once: a guided tour of the authorization model (each persona
signs in, sees their tickets, does what their role allows and is refused what it does not,
with the server's own reason) and an end-to-end smoke test (every outcome is checked
against the policy, as the README's walkthrough states it; any difference is a surprise
and the exit code is 1).

It needs the demo tenants (`make seed`, or `make run` which seeds) and leaves them as it
found them: the ticket it opens is deleted, the colleague it adds (Nina, seeded in no
company) is removed again, and the ticket it moves into a group and the agent it scopes to
that group are put back, so it can run any number of times. What remains is in the audit
log, whose job is to remember, and the ticket counter, which never reuses a number.

    python -m scripts.demo [--base-url http://127.0.0.1:8000]
    make demo ARGS="--base-url http://127.0.0.1:8001"

The package: `harness` (requests as a persona, outcomes checked and told), `story` (the
personas' turns, `STEPS`, and `run_demo`), `undo` (what a stopped run leaves, put back) and
`__main__`.
"""
