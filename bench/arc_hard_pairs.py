"""Why the ARC hard-negative ROC-AUC stops short: many hard negatives pair a comment with a debate on its own subject.

`moderation evaluate` builds ARC hard negatives by pairing each on-topic ARC test comment with the most similar
OTHER debate (TF-IDF over the headlines). Often that debate is on the same subject from another angle (voter ID
under compulsory voting, the Rio Olympics under "the Olympics are more trouble"), and a moderator would call the
comment on-topic there too. This splits the hard negatives into thirds by how close the two debates' headlines
are (all-MiniLM-L6-v2 cosine) and scores each third against the same on-topic pairs, beside the TF-IDF cosine
baseline.

    .venv/bin/python bench/arc_hard_pairs.py [--bundle models/bundles/<version>]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models  # noqa: E402
from models.normalize import normalize  # noqa: E402
from models.offtopic import pairs  # noqa: E402
from training import data  # noqa: E402
from training.evaluate import tfidf_offtopic_scores  # noqa: E402
from training.train import DEFAULT_ROOT, _articles  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=None, help="bundle folder (default: the shipped default)")
    ap.add_argument("--data", default=str(DEFAULT_ROOT))
    args = ap.parse_args(argv)
    bundle = models.load_bundle(args.bundle)
    topic = data.load_topic_sets(args.data, sources=("arc",))
    arc_test = topic[(topic.split == "test") & ~topic.seen_in_train]
    on = arc_test[arc_test.label == 0]
    hard = data.build_hard_negatives(arc_test, seed=0, pool=topic)  # as `moderation evaluate` builds them
    own = dict(zip(on.comment, on.article_title))
    enc = models.get_encoder()
    a = enc.encode([normalize(own[c]) for c in hard.comment])
    b = enc.encode([normalize(t) for t in hard.article_title])
    closeness = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    third = np.digitize(closeness, np.quantile(closeness, [1 / 3, 2 / 3]))
    rows = pd.concat([on.assign(third=-1), hard.assign(third=third)], ignore_index=True)
    p = bundle.off_topic.predict_proba(pairs(rows.comment, _articles(rows)))[:, 1]
    base = tfidf_offtopic_scores(rows.comment.tolist(), rows.article_title.tolist(), rows.article_body.tolist())
    rows = rows.assign(p=p, base=base)
    print(f"bundle {bundle.metadata.get('version')}: {len(on)} on-topic ARC test pairs against {len(hard)} hard negatives")
    print("| hard negatives | n | headline cosine | model ROC-AUC | TF-IDF cosine ROC-AUC |\n|---|---|---|---|---|")
    names = ("least similar debates", "middle third", "most similar debates")
    for k, name in [(None, "all")] + list(enumerate(names)):
        keep = (rows.label == 1) if k is None else (rows.third == k)
        c = closeness if k is None else closeness[third == k]
        part = rows[(rows.label == 0) | keep]
        print(f"| {name} | {int(keep.sum())} | {c.min():.2f}-{c.max():.2f} | {roc_auc_score(part.label, part.p):.3f} | "
              f"{roc_auc_score(part.label, part.base):.3f} |")


if __name__ == "__main__":
    main()
