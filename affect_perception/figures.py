"""Numbers as the Markdown reports show them: a format spec, or ``n/a`` where there is none."""

from __future__ import annotations


def figure(value: float | None, spec: str = ".2f") -> str:
    """``value`` formatted with ``spec`` (for example ``+.2f``, ``.0%``), ``n/a`` for None."""
    return "n/a" if value is None else format(value, spec)
