"""Generated sections of a model folder's MODEL_CARD.md, each between its own two markers."""

from __future__ import annotations

from pathlib import Path


def write_section(model_dir: Path, begin: str, end: str, body: str) -> None:
    """Put ``body`` between ``begin`` and ``end`` at the end of MODEL_CARD.md in ``model_dir``,
    removing an earlier section between the same markers (the card is created if missing)."""
    card = Path(model_dir) / "MODEL_CARD.md"
    text = card.read_text() if card.is_file() else ""
    if begin in text and end in text:
        before = text[: text.index(begin)].rstrip("\n")
        after = text[text.index(end) + len(end) :].lstrip("\n")
        text = before + ("\n\n" + after if after else "")
    card.write_text(text.rstrip("\n") + f"\n\n{begin}\n{body.rstrip(chr(10))}\n{end}\n")
