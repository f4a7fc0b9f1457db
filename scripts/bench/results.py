"""What a family of measurements hands to the report: ratios with goals, and figures."""

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Goal:
    """A bound a ratio must meet."""

    op: Literal[">=", "<="]
    target: float

    def met(self, value: float) -> bool:
        """Whether `value` meets this goal."""
        return value >= self.target if self.op == ">=" else value <= self.target

    def __str__(self) -> str:
        return f"{self.op} {self.target:.1f}" if self.target < 10 else f"{self.op} {self.target:g}"


# The headline figures, in the order they are printed (`RATIO <name> <value>`).
GOALS: dict[str, Goal] = {
    "check_vs_pycasbin": Goal(">=", 100),
    "pushdown_vs_post": Goal(">=", 50),
    "pushdown_docs_per_result": Goal("<=", 1.0),
    "authz_overhead": Goal("<=", 1.10),
    "api_cpu_ratio": Goal("<=", 2.0),
    "pushdown_scaling": Goal("<=", 1.5),
    "grants_scaling": Goal("<=", 1.5),
    "grants_facts_scaling": Goal("<=", 1.2),
    "events_tenant_isolation": Goal("<=", 1.3),
    "pdp_p50_vs_floor": Goal("<=", 1.5),
}


@dataclass(frozen=True)
class Ratio:
    """A headline figure: one sample per repetition, measured side by side.

    `what` says what is divided by what; `limit` what the same work costs with no
    authorization at all, and how close we are to it.
    """

    name: str
    samples: list[float]
    what: str
    limit: str

    @property
    def value(self) -> float:
        """The median of the samples."""
        return statistics.median(self.samples)

    @property
    def goal(self) -> Goal:
        """The bound this figure must meet."""
        return GOALS[self.name]

    @property
    def met(self) -> bool:
        """Whether the median meets the goal."""
        return self.goal.met(self.value)


@dataclass(frozen=True)
class Figure:
    """A reported number without a goal."""

    name: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Point:
    """One measurement plotted against tickets per tenant."""

    size: int
    ms: float
    docs: int


@dataclass
class Section:
    """One family's results: its ratios and figures, how to read them (markdown
    paragraphs), and optionally a table (first row: the header) and plotted series."""

    title: str
    ratios: list[Ratio] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    series: dict[str, list[Point]] = field(default_factory=dict)


def ms(seconds: list[float]) -> float:
    """Median of `seconds`, in milliseconds."""
    return statistics.median(seconds) * 1000


def percentile(values: list[float], p: int) -> float:
    """The `p`th percentile of `values` (1 <= p <= 99), interpolated."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@dataclass
class Results:
    """Everything one run measured, and where."""

    server: str
    started: datetime
    seconds: float
    sections: list[Section]

    @property
    def ratios(self) -> list[Ratio]:
        """The headline figures, in the order of `GOALS`."""
        found = {r.name: r for s in self.sections for r in s.ratios}
        return [found[name] for name in GOALS if name in found]
