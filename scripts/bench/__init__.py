"""`make bench`: what authorization costs, measured side by side in one run.

The claims this project makes (the engine decides far faster than a generic policy
library; permissions pushed into the query beat filtering in Python and do not slow down
as a tenant grows; authorization adds little to a request) are worth what their
measurements are. `python -m scripts.bench` starts its own development database (or uses
`MONGODB_URI`), seeds synthetic tenants (`world`, with `scripts.synthetic`), and runs
each family of figures, one module each:

- `decisions`: `Engine.check` against pycasbin and a bare look-up (`check_vs_pycasbin`);
- `lists`: the list strategies in process against the bare query, at every tenant size,
  for a customer, an agent who reads every ticket and one scoped to their groups
  (`pushdown_vs_post`, `pushdown_docs_per_result`, `pushdown_scaling`);
- `load`: the API as its own process (`api`) under concurrent clients (`authz_overhead`,
  latency percentiles and throughput per route, peak memory).
- `pdp`: the Permit-compatible decision point through the Python Permit SDK (check
  latency beside Permit's documented one, bulk decisions per second); also runs alone
  against a running API (`python -m scripts.bench.pdp --base-url ...`);
- `events`: live updates fanned out by two API processes, one with the 100 subscribers of
  the changed tenant and one with 1,000 in ten tenants (`events_tenant_isolation`,
  delivery latency beside a bare change stream's, events to a reader who may not read);
- `grants`: a request's cost as things are shared with its caller and as they join more
  companies (`grants_scaling`, `grants_facts_scaling`), last because it shares every
  ticket of the largest world.

`report` prints the tables and rewrites docs/benchmarks.md; `plot` draws
docs/benchmarks.png. Every ratio is the median of rounds measured side by side, because
the machine is assumed to be shared and noisy.
"""
