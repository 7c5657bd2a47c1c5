#!/usr/bin/env python3
"""Run tests/reliability and write docs/reliability.md from the figures the tests
record (never by hand).

    python scripts/reliability_report.py            # short (CI) sizes
    python scripts/reliability_report.py --long     # the sizes of the issue

Each test that passes leaves one JSON row (see tests/reliability/conftest.py);
a failing test leaves none, and the report says which tests failed."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"


def _run(long: bool, extra: list[str]) -> tuple[int, Path, float]:
    out = Path(tempfile.mkdtemp(prefix="afgdb-reliability-"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"]
    if long:
        cmd.append("--long")
    cmd += extra
    env = dict(os.environ, AFGDB_RELIABILITY_OUT=str(out))
    t0 = datetime.datetime.now()
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    return rc, out, (datetime.datetime.now() - t0).total_seconds()


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict], long: bool, rc: int, seconds: float) -> str:
    mode = "long" if long else "short"
    cmd = "python scripts/reliability_report.py" + (" --long" if long else "")
    lines = [
        "# Reliability",
        "",
        "What the reliability suite (`tests/reliability/`) tried to break and what came",
        "of it. This page is written by `scripts/reliability_report.py` from the figures",
        "each passing test records; a failing test records nothing.",
        "",
        f"- Command: `{cmd}` ({mode} mode; CI runs the short mode on every push)",
        f"- Run: {datetime.date.today().isoformat()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {seconds:.0f} s, "
        f"pytest exit status {rc}",
        "",
    ]
    areas: dict[str, list[dict]] = {}
    for row in rows:
        areas.setdefault(row["area"], []).append(row)
    for area in sorted(areas):
        lines += [f"## {area}", "", "| test | what | size | result |", "|---|---|---|---|"]
        for row in sorted(areas[area], key=lambda r: r["test"]):
            name = row["test"].split("::", 1)[-1]
            lines.append(
                f"| `{_cell(name)}` | {_cell(row['what'])} | {_cell(row['size'])} | "
                f"{_cell(row['result'])} |"
            )
        lines.append("")
    if rc != 0:
        lines += ["**The run had failures**: tests missing from the tables above failed.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long", action="store_true", help="full sizes (slow)")
    ap.add_argument("--output", type=Path, default=DOC)
    ap.add_argument("pytest_args", nargs="*", help="passed on to pytest (e.g. -k fuzz)")
    args = ap.parse_args()
    rc, out, seconds = _run(args.long, args.pytest_args)
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    args.output.write_text(render(rows, args.long, rc, seconds))
    print(f"wrote {args.output} ({len(rows)} rows, pytest exit {rc})")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
