"""Batch scoring of JSONL (`moderation score`): read, score and write in small batches, so memory stays flat
on any input size. Decisions go through the same policy resolution, `models.decide` and text-length limit as
/v1/moderate, so an offline decision is the one the API would give for the same site and section.

Input line:  {"id": str, "text": str, "article": {"title": str, "body": str, "section": str}}  (article optional)
Output line: {"id", "decision", "reasons", "scores": {"abusive", "off_topic", "spam", ...sub-scores},
              "model_version"}, in input order. A bad line gives {"id" (or null), "line", "error"}.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Iterator

import models


def parse_line(line: str, number: int) -> tuple[str | None, str, dict | None]:
    """(id, text, article) from one input line, or ValueError saying what is wrong."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    cid = obj.get("id")
    if isinstance(cid, bool) or (cid is not None and not isinstance(cid, (str, int))):
        raise ValueError("id must be a string")
    cid = None if cid is None else str(cid)
    text = obj.get("text")
    if not isinstance(text, str):
        raise _Bad(cid, "text is missing or not a string")
    if not text.strip():
        raise _Bad(cid, "text is empty or whitespace only")
    article = obj.get("article")
    if article is not None:
        if not isinstance(article, dict):
            raise _Bad(cid, "article must be an object with title and/or body")
        for key in ("title", "body", "section"):
            if article.get(key) is not None and not isinstance(article[key], str):
                raise _Bad(cid, f"article.{key} must be a string")
        article = {k: article[k] for k in ("title", "body", "id", "section") if article.get(k) is not None}
    if cid is None:
        raise _Bad(None, "id is missing")
    return cid, text, article


class _Bad(ValueError):
    def __init__(self, cid, message):
        super().__init__(message)
        self.cid = cid


@dataclass
class Policy:
    """What the service would apply: the [policy] table of its config, the site and section, MAX_TEXT_CHARS."""
    policy: dict = field(default_factory=dict)
    site: str | None = None
    section: str | None = None
    max_chars: int | None = None

    def decide(self, bundle, score, text: str, section: str | None = None) -> models.Verdict:
        thresholds = {} if score is None else models.thresholds_for(
            self.policy, getattr(bundle, "thresholds", {}), self.site, section or self.section)
        return models.decide(score, thresholds, length=len(text), max_chars=self.max_chars)

    def scored_text(self, text: str) -> str:
        # as /v1/moderate: only the first max_chars are scored, and a longer comment is held as too_long
        return text[:self.max_chars] if self.max_chars else text


def result_line(cid: str, score, verdict: models.Verdict) -> dict:
    scores = {**score.head_scores(), **score.sub_scores}
    return {"id": cid, "decision": verdict.decision, "reasons": verdict.reasons,
            "scores": {k: round(float(v), 6) for k, v in scores.items()}, "model_version": score.model_version}


def _score_batch(bundle, batch, policy: Policy) -> Iterator[dict]:
    good = [(n, item) for n, item in batch if not isinstance(item, Exception)]
    # the section picks the policy; the model sees the article's id, title and body
    pairs = [(policy.scored_text(t), a and {k: v for k, v in a.items() if k != "section"}) for _, (_, t, a) in good]
    try:
        scores = dict(zip((n for n, _ in good), bundle.score_many(pairs)))
    except Exception:  # one item broke the batch: score one by one so only that item fails
        scores = {}
        for (n, _), (text, article) in zip(good, pairs):
            try:
                scores[n] = bundle.score(text, article)
            except Exception as e:  # fail closed: the caller holds it
                scores[n] = e
    for n, item in batch:
        if isinstance(item, Exception):
            yield {"id": getattr(item, "cid", None), "line": n, "error": str(item)}
            continue
        cid, text, article = item
        score = scores[n]
        section = (article or {}).get("section")
        if isinstance(score, Exception):
            verdict = policy.decide(bundle, None, text, section)
            yield {"id": cid, "line": n, **verdict.to_dict(),
                   "error": f"{type(score).__name__}: {score}", "model_version": bundle.version}
        else:
            yield result_line(cid, score, policy.decide(bundle, score, text, section))


def score_stream(bundle, lines: IO[str], out: IO[str], batch_size: int = 64, policy: Policy | None = None) -> dict:
    """Score every non-blank line of `lines` into `out`; returns counts {scored, errors}."""
    policy = policy or Policy()
    counts = {"scored": 0, "errors": 0}
    numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
    while True:
        chunk = list(islice(numbered, batch_size))
        if not chunk:
            return counts
        batch = []
        for n, line in chunk:
            try:
                batch.append((n, parse_line(line, n)))
            except ValueError as e:
                batch.append((n, e))
        for result in _score_batch(bundle, batch, policy):
            counts["errors" if "error" in result else "scored"] += 1
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
