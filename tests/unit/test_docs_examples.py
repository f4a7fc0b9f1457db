"""Every command and code sample of README.md and docs/ is run by a test, or says why not.

The docs' runner (`tests/api/test_docs_commands.py`) runs each page's shell blocks; a block
run elsewhere names its test (`<!-- run by path::test -->`, and that test must exist); a
block nothing runs says why (`<!-- not run: ... -->`). A new sample with none of these in a
language the runner does not speak fails here."""

import pytest

from tests.utils.docs import ROOT, Example, every_example, matches

EXAMPLES = every_example()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.where)
def test_every_example_is_run_or_says_why_not(example: Example) -> None:
    if example.not_run is not None:
        assert len(example.not_run) > 10, f"{example.where}: say why it is not run"
    elif example.run_by is not None:
        path, _, name = example.run_by.partition("::")
        test = ROOT / path
        assert test.is_file() and f"def {name}(" in test.read_text(), example.run_by
    else:
        assert example.language == "sh", f"{example.where}: the docs' runner runs only sh"


def test_the_pages_have_examples_of_each_kind() -> None:
    """The parser finds what the pages hold (a parser that finds nothing passes the above)."""
    assert {e.language for e in EXAMPLES} == {"sh", "python", "js"}
    assert any(e.output for e in EXAMPLES if e.run_by is None and e.not_run is None)
    assert any(e.run_by for e in EXAMPLES) and any(e.not_run for e in EXAMPLES)


def test_a_difference_in_output_is_caught() -> None:
    """The comparison is not lenient: another status, a missing or extra line fails it."""
    shown = '{"detail":"ticket not found","code":"not_found"}  HTTP 404\n'
    assert matches('{"detail":"ticket not found","code":"not_found"}  HTTP 404\n', shown)
    assert not matches('{"detail":"ticket not found","code":"not_found"}  HTTP 403\n', shown)
    assert not matches("", shown)
    assert not matches(shown + "more\n", shown)
    assert matches('{"id":"65f0","x":1}\n', '{"id":"…",\n "x":1}\n')
    assert not matches('{"id":"65f0",\n"x":1}\n', '{"id":"…","x":1}\n')
