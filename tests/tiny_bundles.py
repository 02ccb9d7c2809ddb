"""Tiny real model bundles (no sentence encoder), fitted in seconds from hand-written comments, for the tests of
promotion, the promote gate and hot swapping. `make_bundle(folder, version, rude=...)` decides which words the
abuse head learns as abusive: a bundle taught the wrong words is a deliberately worse one."""
import numpy as np

import models
from models.offtopic import pairs

ARTICLE = {"title": "Council votes on the new bridge", "body": "The council voted 7-2 for the bridge over the river."}
RUDE = ["you stupid idiot", "shut up moron", "what an idiot you are", "moron, total idiot", "you idiot, go away",
        "stupid moron", "idiot politicians and their idiot voters", "total moron"]
KIND = ["thanks for the report on the council bridge", "the council vote on the bridge was close",
        "good article about the bridge", "the bridge will help traffic in town", "a fair vote by the council",
        "the river crossing is long overdue", "seven to two is a clear council majority", "bridge traffic will ease"]
SPAM = ["buy cheap watches online at www.watchy.example", "visit my channel for free bitcoin",
        "cheap pills at www.pills.example", "earn money from home, click www.rich.example"]


def _variants(texts, n):
    return [f"{t} {i}" for t in texts for i in range(n)]


def make_bundle(folder, version: str, *, rude=RUDE, kind=KIND, spam=SPAM, n: int = 4, thresholds=None):
    """Fit both heads on `rude` (abusive) vs `kind` + `spam` (not abusive) and `spam` (off-topic) vs the rest,
    save the bundle to `folder` and return the folder."""
    from threadpoolctl import threadpool_limits
    r, k, s = _variants(rude, n), _variants(kind, n), _variants(spam, n)
    with threadpool_limits(limits=1):
        abuse = models.AbuseClassifier(use_embeddings=False).fit(r + k + s, np.r_[np.ones(len(r)), np.zeros(len(k) + len(s))].astype(int))
        comments = r + k + s
        y = np.r_[np.zeros(len(r) + len(k)), np.ones(len(s))].astype(int)
        off = models.OffTopicClassifier(use_embeddings=False, max_iter=50, min_samples_leaf=3).fit(
            pairs(comments, [ARTICLE] * len(comments)), y, comment_rows=np.ones(len(comments), bool))
    bundle = models.Bundle(abuse=abuse, off_topic=off, spam=None,
                           thresholds=thresholds or {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5},
                           metadata={"version": version, "mode": "test"})
    bundle.save(folder)
    return folder
