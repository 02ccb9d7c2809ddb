"""Does the adaptation loop learn? A local insult and a recurring spam phrase that only a site's moderators know.

A labelled export is written by this script (hand-written templates, no data set text): comments calling people a
"wazzock" (the local insult) labelled abusive, comments pushing "kwikloans dot biz" labelled off-topic, and
ordinary comments about the article labelled neither. In a registry folder of its own (MODERATION_BUNDLES_DIR)
holding a copy of the shipped default:

1. the default bundle decides on held-out comments with the insult and the phrase (other wordings);
2. `moderation train --labelled export.jsonl [--quick]` trains a candidate from the public sets + the export;
3. `moderation models promote CANDIDATE --labelled export.jsonl` runs the gate (public news sample + the newest
   quarter of the export) and prints its table: promoted only if no rate is worse beyond the tolerance;
4. the default bundle (now the candidate, if promoted) decides on the same held-out comments;
5. `moderation models rollback`, then the default decides again: the same decisions and scores as in 1?
   If the gate refused, the bench promotes with --force (logged, in its own registry only) to check rollback.

    .venv/bin/python bench/loop_learns.py --data ../shared/data [--quick]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'moderation'; from service.cli import main; main()"]

ARTICLE = {"article_title": "Council approves the new harbour bridge",
           "article_body": "The council voted 7-2 to build a new bridge across the harbour, costing 40 million."}
PEOPLE = ["the mayor", "the councillor", "whoever planned this", "the engineer", "the reporter", "you", "that guy",
          "the minister", "the contractor", "my neighbour"]
INSULT = ["{p} is a complete wazzock", "what a wazzock {p} is", "only a wazzock like {p} would vote for this",
          "{p}, you utter wazzock", "wazzock alert: {p} again"]
SPAM = ["need cash fast? kwikloans dot biz approves in minutes", "kwikloans dot biz: money today, no questions",
        "get your kwikloan now at kwikloans dot biz", "tired of waiting? kwikloans dot biz pays out tonight"]
ORDINARY = ["{p} made a fair point about the bridge budget", "I think {p} should explain the 40 million",
            "the harbour bridge will help {p} get to work", "{p} voted for the bridge and I agree",
            "will the bridge be finished before {p} retires?", "good reporting on the harbour bridge vote",
            "the traffic on the old road is terrible, a new bridge is overdue",
            "40 million seems a lot, but the ferry costs money too"]
HELD_OUT = {"insult": ["honestly {p} is a wazzock", "the wazzock who approved this should resign"],
            "spam": ["kwikloans dot biz is the answer to your bills", "visit kwikloans dot biz for a fast loan"],
            "ordinary": ["{p} asked a good question about the harbour bridge", "the bridge vote was closer than I thought"]}


def export_rows():
    rows = []
    for i, p in enumerate(PEOPLE):
        rows += [{"text": t.format(p=p), "abusive": 1, "off_topic": 0, **ARTICLE} for t in INSULT]
        rows += [{"text": t.format(p=p), "abusive": 0, "off_topic": 0, **ARTICLE} for t in ORDINARY]
        rows += [{"text": f"{SPAM[i % len(SPAM)]} (#{i})", "abusive": 0, "off_topic": 1, **ARTICLE}]
        rows += [{"text": f"{SPAM[(i + 1) % len(SPAM)]}!", "abusive": 0, "off_topic": 1, **ARTICLE}]
    order = sorted(range(len(rows)), key=lambda k: (k * 7919) % len(rows))   # interleaved, fixed
    return [{"id": f"site:{k}", **rows[k]} for k in order]


def decisions(bundle_folder):
    """{text: (kind, decision, reasons, abusive, off_topic, spam)} at full precision (rollback is checked exactly)."""
    import models
    bundle = models.load_bundle(bundle_folder)
    article = {"title": ARTICLE["article_title"], "body": ARTICLE["article_body"]}
    out = {}
    for kind, texts in HELD_OUT.items():
        for t in texts:
            for p in ("the mayor", "a local builder"):
                text = t.format(p=p)
                s = bundle.score(text, article)
                v = models.decide(s)
                out[text] = (kind, v.decision, tuple(v.reasons), s.abusive, s.off_topic, s.spam)
    return bundle.version, out


def default_decisions(registry):
    """What the service would load now: the registry's current.txt, not a folder named by the bench."""
    return decisions(registry / (registry / "current.txt").read_text().strip())


def cell(d, r, a, o, s):
    return f"{d} {','.join(r)} (abusive {a:.3f}, off-topic {o:.3f}, spam {s:.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--quick", action="store_true", help="train --quick (no sentence encoder): minutes, not hours")
    ap.add_argument("--report", type=Path, default=ROOT / "bench/loop_learns.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="loop-learns-"))
    registry = tmp / "bundles"
    sys.path.insert(0, str(ROOT))
    import models.bundle as mb
    current = mb.default_bundle_path().name
    shutil.copytree(mb.default_bundle_path(), registry / current)
    (registry / "current.txt").write_text(current + "\n")
    export = tmp / "site-export.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in export_rows()))
    env = {**os.environ, "MODERATION_BUNDLES_DIR": str(registry), "OMP_NUM_THREADS": "1"}

    _, before = decisions(registry / current)
    started = time.monotonic()
    train = subprocess.run(CLI + ["train", "--data", str(args.data), "--labelled", str(export), "--version",
                                  "loop-candidate", "--output", str(registry / "loop-candidate")]
                           + (["--quick"] if args.quick else []), env=env, cwd=ROOT, capture_output=True, text=True)
    train_s = time.monotonic() - started
    if train.returncode:
        raise SystemExit(train.stdout + train.stderr)
    gate_args = ["--data", str(args.data), "--labelled", str(export)]
    promote = subprocess.run(CLI + ["models", "promote", "loop-candidate"] + gate_args,
                             env=env, cwd=ROOT, capture_output=True, text=True)
    forced = None
    if promote.returncode:   # refused: force it (logged; the bench's own registry) only to check rollback below
        forced = subprocess.run(CLI + ["models", "promote", "loop-candidate", "--force", "--reason",
                                       "loop_learns bench: rollback check after a refused gate",
                                       "--no-public", "--labelled", str(export)],   # the gate ran above
                                env=env, cwd=ROOT, capture_output=True, text=True)
    promoted_version, after = default_decisions(registry)
    rollback = subprocess.run(CLI + ["models", "rollback"], env=env, cwd=ROOT, capture_output=True, text=True)
    rolled_version, rolled = default_decisions(registry)
    same = sum(rolled[t] == before[t] for t in before)

    lines = [f"# Does the loop learn? A local insult and a spam phrase known only from a site's labels",
             "",
             f"`python bench/loop_learns.py{' --quick' if args.quick else ''}`: export of {len(export_rows())} "
             f"labelled rows written by the script; candidate trained with `moderation train --labelled"
             f"{' --quick' if args.quick else ''}` in {train_s / 60:.0f} min; default bundle {current}.",
             "",
             f"| held-out comment | kind | default bundle {current} | default after promote ({promoted_version}"
             f"{', forced' if forced else ''}) |",
             "|---|---|---|---|"]
    for text, (kind, *b) in before.items():
        _, *a = after[text]
        lines.append(f"| {text} | {kind} | {cell(*b)} | {cell(*a)} |")
    lines += ["", f"`moderation models promote loop-candidate --labelled site-export.jsonl` (exit {promote.returncode}):",
              "", "```", (promote.stdout + promote.stderr).strip(), "```"]
    if forced:
        lines += ["", f"The gate refused, so only to check rollback: `moderation models promote loop-candidate --force "
                      f"--no-public --reason ...` in the bench's own registry (exit {forced.returncode}):",
                  "", "```", (forced.stdout + forced.stderr).strip(), "```"]
    lines += ["", f"`moderation models rollback` (exit {rollback.returncode}): "
                  f"{(rollback.stdout + rollback.stderr).strip()}",
              "", f"After rollback the default is {rolled_version}; its decisions, reasons and scores on the "
                  f"{len(before)} held-out comments equal those before training (compared exactly, not rounded): "
                  f"{same} of {len(before)}."]
    report = "\n".join(lines) + "\n"
    print(report)
    args.report.write_text(report)


if __name__ == "__main__":
    main()
