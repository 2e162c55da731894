"""Values as they go into log lines and refusals: cut to a readable length.

A parameter may hold any string a participant sends (a 200 kB string makes a 200 kB log line);
everything that shows a value or a reason that may quote one goes through :func:`shown` or
:func:`cut`.
"""

from __future__ import annotations

from typing import Any

# Longest text of one value in a log line or a refusal, in characters.
MAX_LOG_CHARS = 200


def cut(text: str, limit: int = MAX_LOG_CHARS) -> str:
    """``text``, or its first ``limit`` characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def shown(value: Any, limit: int = MAX_LOG_CHARS) -> str:
    """A value as a log line shows it (strings quoted), cut to ``limit`` characters."""
    return cut(repr(value) if isinstance(value, str) else str(value), limit)
