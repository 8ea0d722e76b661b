"""The markdown tables the benchmarks print: columns padded to their widest cell.

Shared by every benchmark's report (``compile``, ``halo``, ``latency``, ``persistent``, ``pi``,
``startup``, ``strided``, ``suite``).
"""

from __future__ import annotations


def markdown(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """``head`` and ``rows`` as a markdown table: the first ``left`` columns (labels)
    aligned left, the others (numbers) right."""
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.ljust(width) if i < left else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths))
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(":" + "-" * (width + 1) if i < left else "-" * (width + 1) + ":" for i, width in enumerate(widths))
        + "|"
    )
    return "\n".join([line(head), rule, *(line(row) for row in rows)])


def ratio(value: float) -> str:
    """A ratio as a table cell: two decimals, or two significant digits below 0.01, where two
    decimals would print a positive ratio as a misleading ``0.00``.

    >>> ratio(1.0449), ratio(0.0049), ratio(float("inf"))
    ('1.04', '4.9e-03', 'inf')
    """
    return f"{value:.2f}" if value >= 0.01 else f"{value:.1e}"
