"""The type check's ratchet: mypy on the package may report only the errors listed in
``scripts/mypy_baseline.txt`` (file, error code and message, line numbers left out so edits
elsewhere do not shift them). A new error fails; ``--update`` rewrites the baseline after
errors were fixed (a shorter list is the only way it should change)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scripts" / "mypy_baseline.txt"
ERROR = re.compile(r"^(?P<file>[^:]+):\d+(?::\d+)?: error: (?P<text>.*)$")


def current_errors() -> Counter[str]:
    """mypy's errors on the package as ``file: message [code]`` lines, counted."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "affect_perception"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        sys.exit(f"mypy failed to run: {done.stderr or done.stdout}")
    return Counter(
        f"{m['file']}: {m['text']}"
        for line in done.stdout.splitlines()
        if (m := ERROR.match(line))
    )


def main(argv: list[str]) -> int:
    errors = current_errors()
    if "--update" in argv:
        BASELINE.write_text("".join(f"{line}\n" for line in sorted(errors.elements())))
        print(f"{BASELINE.name}: {sum(errors.values())} errors")
        return 0
    known = Counter(BASELINE.read_text().splitlines())
    new = errors - known
    if new:
        print("new type errors (fix them; the baseline only shrinks):", file=sys.stderr)
        for line in sorted(new.elements()):
            print(f"  {line}", file=sys.stderr)
        return 1
    fixed = sum((known - errors).values())
    print(
        f"types: no new errors ({sum(errors.values())} known"
        + (f", {fixed} fixed: run scripts/check_types.py --update" if fixed else "")
        + ")"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
