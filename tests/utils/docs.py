"""The code a reader of README.md and docs/ would run, read out of the pages.

A fenced block in a language a reader runs (`sh`, `python`, `js`) is one `Example`. The
line just above its fence may say who runs it instead of the docs' own runner:

    <!-- run by tests/api/test_pdp_sdk.py::test_the_documented_pdp_examples_run_as_written -->
    <!-- not run: why not (a server this machine does not have, placeholders, ...) -->

Without either, `tests/api/test_docs_commands.py` runs it. An example followed by
"Output:" and a `text` block is expected to print that text, where `…` stands for any
characters of one line (ids, times) and a line starting with one space continues the line
above (the docs wrap long JSON).
"""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"sh", "python", "js"}
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```\n", re.MULTILINE | re.DOTALL)
DIRECTIVE = re.compile(r"<!-- (run by|not run:) (.+?) -->\n$")
OUTPUT_LEAD = re.compile(r"\A\s*Output:\s*\Z")


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    language: str
    code: str
    output: str | None  # what it prints, when the page shows it
    run_by: str | None  # `path::test` of the test that runs it, when not the docs' runner
    not_run: str | None  # why nothing runs it

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def examples(page: Path) -> list[Example]:
    """Every runnable block of `page`, in order."""
    text = page.read_text()
    blocks = list(FENCE.finditer(text))
    found = []
    for i, block in enumerate(blocks):
        language = block[1]
        if language not in RUNNABLE:
            continue
        output = None
        if i + 1 < len(blocks) and blocks[i + 1][1] == "text":
            between = text[block.end() : blocks[i + 1].start()]
            if OUTPUT_LEAD.match(between):
                output = blocks[i + 1][2]
        directive = DIRECTIVE.search(text[: block.start()])
        kind, said = (directive[1], directive[2]) if directive else (None, None)
        found.append(
            Example(
                page=page,
                line=text.count("\n", 0, block.start()) + 1,
                language=language,
                code=block[2],
                output=output,
                run_by=said if kind == "run by" else None,
                not_run=said if kind == "not run:" else None,
            )
        )
    return found


def every_example() -> list[Example]:
    return [example for page in PAGES for example in examples(page)]


def run_here(page: Path) -> list[Example]:
    """The shell examples of `page` that the docs' runner runs."""
    return [
        e for e in examples(page) if e.language == "sh" and e.run_by is None and e.not_run is None
    ]


def matches(printed: str, shown: str) -> bool:
    """Whether `printed` is what the page shows: line by line, `…` for any characters."""
    expected: list[str] = []
    for line in shown.rstrip("\n").split("\n"):
        if line.startswith(" ") and not line.startswith("  ") and expected:
            expected[-1] += line[1:]
        else:
            expected.append(line)
    actual = printed.rstrip("\n").split("\n")
    if len(actual) != len(expected):
        return False
    return all(
        re.fullmatch(".*?".join(map(re.escape, want.split("…"))), got)
        for want, got in zip(expected, actual, strict=True)
    )
