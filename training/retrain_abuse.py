"""Add a stacked sentence-embedding regression to a bundle's abuse head; the other heads are kept as they are.

    python -m training.retrain_abuse --base models/bundles/2026.11.27 --version 2026.11.27.3 \
        --cache .cache/embeddings.pkl --stack-weight W --embedding-C C

Why not a full `moderation train`: encoding all ~55k abuse training texts takes over an hour on the
shared 2-core machine. The shipped n-gram regressions (word + char TF-IDF, sub-scores, spans) are kept
unchanged; a logistic regression on all-MiniLM-L6-v2 embeddings is fitted on the training rows (same
`abuse_splits` as `moderation train`, so the held-out sets are unchanged) whose embeddings are in the
cache (`--max-rows` caps them), its margin is added to the n-gram margin with weight W, and the sum is
Platt-recalibrated and its threshold re-chosen on UCC dev, as `moderation train` does.
"""
from __future__ import annotations

import argparse
import copy
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import models
from models.encoder import get_encoder, text_key
from models.normalize import normalize

from . import train as T

log = logging.getLogger("moderation.retrain_abuse")


def retrain(base: Path, version: str, cache: Path, stack_weight: float, embedding_C: float, max_rows: int | None,
            root=T.DEFAULT_ROOT, seed: int = 0) -> Path:
    t0 = time.time()
    old = models.load_bundle(base)
    store = T.EmbeddingStore(cache)
    get_encoder().store = store
    a_train, a_cal, a_held = T.abuse_splits(root, T.CAPS["full"], seed)
    rows = a_train[~a_train.source.isin(T.POSITIVE_ONLY)]
    have = np.array([text_key(normalize(t)) in store for t in rows.text])
    rows = rows[have]
    if max_rows and len(rows) > max_rows:
        rows = rows.sample(max_rows, random_state=seed)
    log.info("embedding regression on %d of %d training rows (those with cached embeddings)", len(rows), int(len(have)))
    T.precompute([normalize(t) for t in a_cal.text], store, "abuse calibration")
    abuse = copy.copy(old.abuse)
    abuse.use_embeddings, abuse.stack_weight, abuse.embedding_C = True, stack_weight, embedding_C
    abuse.fit_embedding_head(rows.text.tolist(), rows.label.to_numpy(int),
                             calibration=(a_cal.text.tolist(), a_cal.label.to_numpy()))
    cal_p = abuse.predict_proba(a_cal.text.tolist())[:, 1]
    thresholds = dict(old.thresholds, abusive=T._best_threshold(a_cal.label.to_numpy(), cal_p))
    held = {}
    for name, g in a_held.groupby("source"):
        if g.label.nunique() < 2:
            continue
        T.precompute([normalize(t) for t in g.text], store, f"held-out {name}")
        held[f"abusive_roc_auc_{name}"] = T._auc(g.label, abuse.predict_proba(g.text.tolist())[:, 1])
    meta = copy.deepcopy(old.metadata)
    old_held = meta["metrics"]["held_out"]
    meta["metrics"]["held_out"] = {**old_held, **held}
    meta["metrics"]["held_out_previous_abuse_head"] = {k: old_held[k] for k in held if k in old_held}
    meta["metrics"]["validation"]["abusive_roc_auc_ucc_dev"] = T._auc(a_cal.label, cal_p)
    meta["data"]["abuse_embedding_train"] = T._describe("embedding regression train", rows)
    meta.update(version=version, trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                mode="full + stacked embedding abuse head", abuse_embeddings=True,
                based_on=old.version, training_seconds=round(time.time() - t0, 1),
                abuse_retrain={"script": "python -m training.retrain_abuse", "stack_weight": stack_weight,
                               "embedding_C": embedding_C, "embedding_rows": len(rows),
                               "note": "n-gram heads, spans, spam and off-topic heads copied from " + old.version +
                                       "; embedding regression + Platt + abusive threshold refitted"})
    out = T._save(models.bundle.BUNDLES / version, models.Bundle(abuse=abuse, off_topic=old.off_topic, spam=old.spam,
                                                                 thresholds=thresholds, metadata=meta))
    card = out / "MODEL_CARD.md"
    table = [f"| {k.removeprefix('abusive_roc_auc_')} | {old_held.get(k)} | {v} |" for k, v in held.items()]
    card.write_text(card.read_text() + "\n".join([
        "", "## How this bundle was made", "",
        f"Not by a full `moderation train`: `python -m training.retrain_abuse --base {base} --version {version} "
        f"--stack-weight {stack_weight} --embedding-C {embedding_C}` on bundle {old.version}. Its off-topic, spam "
        "and span models and the abuse head's n-gram regressions (and sub-scores) are copied unchanged; added: a "
        f"logistic regression on all-MiniLM-L6-v2 embeddings of {len(rows)} training rows (those whose embeddings were "
        f"cached; same training split, held-out sets untouched), its margin added with weight {stack_weight}, then "
        "Platt scaling and the abusive threshold refitted on UCC dev.", "",
        "| held-out set | abuse ROC-AUC before | after |", "|---|---|---|", *table, ""]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, default=models.bundle.default_bundle_path())
    ap.add_argument("--version", required=True)
    ap.add_argument("--cache", type=Path, default=T.CACHE_DIR / "embeddings.pkl")
    ap.add_argument("--stack-weight", type=float, default=1.0)
    ap.add_argument("--embedding-C", type=float, default=1.0)
    ap.add_argument("--max-rows", type=int, default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(retrain(a.base, a.version, a.cache, a.stack_weight, a.embedding_C, a.max_rows))


if __name__ == "__main__":
    main()
