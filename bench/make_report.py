"""Assemble bench/REPORT-models.md from `moderation evaluate`'s report and score_speed.py's table.

    .venv/bin/moderation evaluate --output bench/eval [--embedding-cache]
    .venv/bin/python bench/score_speed.py | tee bench/speed.txt
    .venv/bin/python bench/arc_hard_pairs.py | tee bench/arc_hard_pairs.txt
    .venv/bin/python bench/make_report.py [--note "..."]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval", default=str(HERE / "eval"))
    ap.add_argument("--speed", default=str(HERE / "speed.txt"))
    ap.add_argument("--arc-hard", default=str(HERE / "arc_hard_pairs.txt"))
    ap.add_argument("--note", default="", help="A paragraph placed under the title (e.g. which bundle and why).")
    args = ap.parse_args(argv)
    ev = Path(args.eval)
    results = json.loads((ev / "results.json").read_text())
    report = (ev / "report.md").read_text()
    body = report.split("\n", 1)[1]  # drop the evaluation report's own title
    body = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", rf"![\1]({ev.relative_to(HERE).as_posix()}/\2)", body)
    body = re.sub(r"^## ", "### ", re.sub(r"^### ", "#### ", body, flags=re.M), flags=re.M)
    speed = Path(args.speed)
    out = [f"# Models report: bundle {results['bundle_version']}", ""]
    if args.note:
        out += [args.note, ""]
    out += ["Reproduce (2-core machine; the data in ../shared/data):", "", "```sh",
            results["command"].replace("moderation ", ".venv/bin/moderation ", 1),
            ".venv/bin/python bench/score_speed.py | tee bench/speed.txt",
            ".venv/bin/python bench/arc_hard_pairs.py | tee bench/arc_hard_pairs.txt",
            ".venv/bin/python bench/make_report.py", "```", "", "## Quality (`moderation evaluate`)", "", body.strip(), ""]
    arc_hard = Path(args.arc_hard)
    if arc_hard.exists():
        out += ["## ARC hard negatives by how close the two debates are (`bench/arc_hard_pairs.py`)", "",
                "The hard negatives above, split into thirds by the cosine between the comment's own debate headline "
                "and the one it is paired with, each against the same on-topic pairs. The closer the debates, the "
                "more often the comment is about the other debate's subject too.", "", arc_hard.read_text().strip(), ""]
    out += ["## Speed (`bench/score_speed.py`)", ""]
    out += [speed.read_text().strip() if speed.exists() else "Not measured yet.", ""]
    (HERE / "REPORT-models.md").write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {HERE / 'REPORT-models.md'}")


if __name__ == "__main__":
    main()
