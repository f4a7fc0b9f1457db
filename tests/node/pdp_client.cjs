// The Node Permit SDK (permitio) as a client of this project's PDP, driven by
// tests/test_pdp_sdk.py: `node pdp_client.cjs '<plan as JSON>'` prints one JSON document.
//
// The plan: {pdp, token, users: [key], checks: [[user, action, resource]]}. The answer:
// {graphs: {user: getUserPermissions(user)}, checks: [check(...)], bulk: bulkCheck(checks),
//  wrongKey: the error a client with a wrong token gets, or null if it got none}.
// The module is found through NODE_PATH (build/node/node_modules, see the Makefile).
const { Permit } = require("permitio");

async function main() {
  const plan = JSON.parse(process.argv[2]);
  const config = { pdp: plan.pdp, token: plan.token, log: { level: "silent" } };
  const permit = new Permit(config);
  const graphs = {};
  for (const user of plan.users) {
    graphs[user] = await permit.getUserPermissions(user);
  }
  const checks = [];
  for (const [user, action, resource] of plan.checks) {
    checks.push(await permit.check(user, action, resource));
  }
  const bulk = await permit.bulkCheck(
    plan.checks.map(([user, action, resource]) => ({ user, action, resource }))
  );
  let wrongKey = null;
  try {
    const impostor = new Permit({ ...config, token: `${plan.token}-not` });
    await impostor.check(...plan.checks[0]);
  } catch (err) {
    wrongKey = err.name;
  }
  process.stdout.write(JSON.stringify({ graphs, checks, bulk, wrongKey }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
