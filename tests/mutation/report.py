"""Summarise a finished `mutmut run` (the mutants/*.meta files) per module and per function:
mutants, killed (a test failed or timed out), survived; then list the survivors.

Run: python -m tests.mutation.report (make mutate runs it and writes docs/MUTATION-RUN.md)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KILLED = {1, 3, 24, -24, 36, 152, 255}  # a failing test, or a test that ran out of time


def outcomes() -> dict[str, int | None]:
    """Exit code of every mutant's test run, by mutant name."""
    codes: dict[str, int | None] = {}
    for meta in sorted((REPO / "mutants").rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def main() -> int:
    codes = outcomes()
    if not codes:
        print("no mutmut results: run `make mutate` first")
        return 1
    per_module: Counter = Counter()
    killed_per_module: Counter = Counter()
    for name, code in codes.items():
        module = name.split(".x")[0]
        per_module[module] += 1
        killed_per_module[module] += code in KILLED
    killed = sum(killed_per_module.values())
    lines = [
        "| module | mutants | killed | kill rate |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {m} | {n} | {killed_per_module[m]} | {100 * killed_per_module[m] / n:.1f} % |"
            for m, n in sorted(per_module.items())
        ),
        f"| all | {len(codes)} | {killed} | {100 * killed / len(codes):.1f} % |",
        "",
        "Not killed:",
        *(f"- {name} (exit {code})" for name, code in sorted(codes.items()) if code not in KILLED),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
