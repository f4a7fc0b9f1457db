"""The architecture, enforced: routers go through the authorized query layer, and the
policy engine stays free of the web framework.

Routers may name the protected document classes (that is how they ask `Scope` for typed
documents) but never query, write or reach the collection of one themselves.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTECTED = {"Ticket", "Membership", "Group", "Company", "AuditEvent", "Invitation"}
RAW_ACCESS = {
    "get_pymongo_collection",
    "get_motor_collection",
    "find",
    "find_one",
    "find_all",
    "aggregate",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "find_one_and_update",
    "get",
}
# The benchmark baseline measures the query *without* authorization; it is mounted only
# when BENCH_ROUTES is on, which the settings refuse outside development.
ALLOWED_BYPASS = {"bench.py"}
COPY_PATH = re.compile(r'"access\.(memberships|resource_roles)')  # a path into User.access


def bypasses(source: str) -> list[str]:
    """Lines where router code touches a protected document class directly."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "get_pymongo_collection":
            found.append(f"line {node.lineno}: raw collection access")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in PROTECTED
            and node.attr in RAW_ACCESS
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_routers_go_through_the_authorized_layer() -> None:
    offenders = {
        path.name: problems
        for path in sorted((ROOT / "app" / "routers").glob("*.py"))
        if path.name not in ALLOWED_BYPASS and (problems := bypasses(path.read_text()))
    }
    assert offenders == {}


def test_the_check_catches_a_bypass() -> None:
    bad = "from models import Ticket\nasync def h():\n    return await Ticket.find({}).to_list()\n"
    assert bypasses(bad) == ["line 3: Ticket.find"]
    raw = "def h(scope):\n    return Thing.get_pymongo_collection()\n"
    assert bypasses(raw) == ["line 2: raw collection access"]


def _imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_dependencies_point_one_way() -> None:
    """app -> authz -> models: the engine knows nothing of HTTP, the models nothing above."""
    for package, forbidden in (
        ("authz", {"fastapi", "starlette", "app"}),
        ("models", {"fastapi", "starlette", "app", "authz"}),
    ):
        for path in (ROOT / package).rglob("*.py"):
            assert not _imports(path) & forbidden, f"{path.relative_to(ROOT)} imports upward"


def test_one_module_writes_the_copy_of_a_users_facts() -> None:
    """`User.access` is derived from the record: `app/services/user_facts.py` writes it,
    and only the write paths of what it copies (memberships, group members) and the bulk
    loaders that rebuild it reach that module; nothing else names the copy's fields."""
    writer = ROOT / "app" / "services" / "user_facts.py"
    reachers = {
        path.relative_to(ROOT).as_posix()
        for package in ("app", "authz", "models", "scripts")
        for path in (ROOT / package).rglob("*.py")
        if path != writer and "user_facts" in _imports_full(path)
    }
    assert reachers == {
        "app/migrations.py",
        "app/services/companies.py",
        "app/services/groups.py",
        "app/services/memberships.py",
        "scripts/bench/grants.py",
        "scripts/seed.py",
        "scripts/soak.py",  # reads what each copy should say, for its isolation pass
        "scripts/synthetic/writer.py",
        "scripts/verify.py",  # compares each copy with the record, and rebuilds it to repair
    }
    migrations = ROOT / "app" / "migrations.py"  # it finds copies of the old shape by it
    for package in ("app", "authz", "scripts"):
        for path in (ROOT / package).rglob("*.py"):
            if path not in (writer, migrations):
                found = COPY_PATH.search(path.read_text())
                assert found is None, f"{path} writes the copy itself: {found}"


def _imports_full(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return {part for name in names for part in name.split(".")}


# Services apply the engine's decisions; they never make one of their own. The PDP's
# service names the policy's types and actions to parse questions, and decides nothing.
DECIDING = {"writable_fields", "settable_fields", "parent_scoped", "reach_filter"}
POLICY_NAMES = {"admin", "agent", "customer", "viewer", "member", "creator", "assignee"}


def decides(source: str) -> list[str]:
    """Lines of service code that read the raw policy, ask a field decision instead of
    having the write authorized, or spell a role or relation name of the policy."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "policy":
            found.append(f"line {node.lineno}: reads the raw policy")
        if isinstance(node, ast.Attribute) and node.attr in DECIDING:
            found.append(f"line {node.lineno}: decides fields itself ({node.attr})")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (node.value in POLICY_NAMES or "#" in node.value)
        ):
            found.append(f"line {node.lineno}: names {node.value!r}, the policy's to name")
    return found


def test_services_apply_decisions_rather_than_make_them() -> None:
    offenders = {
        path.name: problems
        for path in sorted((ROOT / "app" / "services").glob("*.py"))
        if path.name != "pdp.py" and (problems := decides(path.read_text()))
    }
    assert offenders == {}


def test_the_service_check_catches_a_decision() -> None:
    bad = (
        'def f(scope):\n    if "group_id" in scope.engine.policy.roles["agent"].x:\n        pass\n'
    )
    assert sorted(decides(bad)) == [
        "line 2: names 'agent', the policy's to name",
        "line 2: reads the raw policy",
    ]
