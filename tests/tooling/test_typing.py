"""mypy --strict knows the documents' fields: a misspelt one is an error, not a runtime
AttributeError. It holds only while mypy sees Beanie's `Document` as the pydantic model it
is (stubs/lazy_model), so a change of dependency that hides it again fails here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

ROUTER = """
from models import Ticket


def subject_of(ticket: Ticket) -> str:
    return ticket.{field}
"""


def mypy_errors(source: str, tmp_path: Path) -> str:
    """What `mypy --strict`, with the project's configuration, says of `source`."""
    module = tmp_path / "router.py"
    module.write_text(source)
    run = subprocess.run(  # noqa: S603 - our own interpreter, on a file we wrote
        [sys.executable, "-m", "mypy", "--no-error-summary", str(module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return run.stdout


def test_a_misspelt_ticket_field_is_a_type_error(tmp_path: Path) -> None:
    assert mypy_errors(ROUTER.format(field="subject"), tmp_path) == ""
    said = mypy_errors(ROUTER.format(field="subjet"), tmp_path)
    assert '"Ticket" has no attribute "subjet"; maybe "subject"?' in said
