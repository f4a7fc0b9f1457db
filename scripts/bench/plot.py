"""docs/benchmarks.png: each plotted series against tickets per tenant, latency and
documents received side by side."""

from pathlib import Path
from typing import Any

from scripts.bench.results import Point, Results

COLORS = {"query": "tab:gray", "pushdown": "tab:green", "bulk": "tab:orange", "post": "tab:red"}
STYLES = {"customer": "-", "agent": "--", "agent (groups)": "-."}


def _axes(ax: Any, sizes: list[int], ylabel: str, title: str) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("tickets per tenant")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


def _style(name: str) -> dict[str, Any]:
    contender, _, persona = name.partition(", ")
    return {
        "color": COLORS.get(contender, "tab:blue"),
        "linestyle": STYLES.get(persona, ":"),
        "marker": "o",
        "label": name,
    }


def draw(results: Results, path: Path) -> None:
    """Plot every series of every section into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[Point]] = {}
    for section in results.sections:
        series |= section.series
    sizes = sorted({p.size for points in series.values() for p in points})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6), dpi=110)
    for name, points in series.items():
        x = [p.size for p in points]
        left.plot(x, [p.ms for p in points], **_style(name))
        right.plot(x, [max(p.docs, 1) for p in points], **_style(name))
    server = results.server.split(" (")[0]
    _axes(left, sizes, "median ms", f"First page of 50 ({server})")
    _axes(right, sizes, "documents received", "Documents the database sent for that page")
    # Below both panels, one column per persona, so that no line is hidden behind it.
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path)
    plt.close(fig)
