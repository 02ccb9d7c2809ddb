"""Batch scoring of JSONL (`moderation score`): read, score and write in windows of small batches, so memory
stays flat on any input size. Inside a window, lines are sorted by token count into batches (less padding in the
encoder) and written back in input order; batches run in this process, in forked workers (`--jobs`) or on Dask
(`--dask`), all giving the same output because a batch's content depends on the input alone. Decisions go through the same policy resolution, `models.decide` and text-length limit as
/v1/moderate, so an offline decision is the one the API would give for the same site and section.

Input line:  {"id": str, "text": str, "article": {"title": str, "body": str, "section": str}}  (article optional)
Output line: {"id", "decision", "reasons", "scores": {"abusive", "off_topic", "spam", ...sub-scores},
              "model_version"} (and "shadow" for a site in shadow mode, as /v1/moderate), in input order. A bad line gives {"id" (or null), "line", "error"}.
"""
from __future__ import annotations

import gc
import json
import os
import resource
from collections import deque
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
    """What the service would apply: its policy (the [policy] table of its config, with the database policy laid
    over it by `stored_policy`), the site and section, MAX_TEXT_CHARS."""
    policy: dict = field(default_factory=dict)
    site: str | None = None
    section: str | None = None
    max_chars: int | None = None

    def verdict(self, bundle, score, text: str, section: str | None = None) -> models.Verdict:
        section = section or self.section
        thresholds = {} if score is None else models.thresholds_for(
            self.policy, getattr(bundle, "thresholds", {}), self.site, section)
        language = models.setting_for(self.policy, "unsupported_language", self.site, section) or "hold"
        return models.decide(score, thresholds, length=len(text), max_chars=self.max_chars,
                             unsupported_language=language)

    def answer(self, line: dict, section: str | None = None) -> dict:
        """As /v1/moderate answers: in shadow mode `publish` with no reasons, the policy's decision under `shadow`."""
        from .policy import mode_for
        if mode_for(self.policy, self.site, section or self.section) != "shadow":
            return line
        return {**line, "decision": "publish", "reasons": [],
                "shadow": {"decision": line["decision"], "reasons": line["reasons"]}}

    def scored_text(self, text: str) -> str:
        # as /v1/moderate: only the first max_chars are scored, and a longer comment is held as too_long
        return text[:self.max_chars] if self.max_chars else text


def stored_policy(toml_policy: dict, database_url: str) -> dict:
    """The policy /v1/moderate decides with: the TOML one with the database's rows (`moderation calibrate --apply`,
    `moderation policy set`) laid over it. Raises when the database cannot be read: deciding offline under
    another policy than the service's would go unnoticed."""
    from sqlalchemy.orm import Session

    from .db import make_engine
    from .policy import latest_rows, merge
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return merge(toml_policy, latest_rows(session))
    finally:
        engine.dispose()


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
            verdict = policy.verdict(bundle, None, text, section)
            yield policy.answer({"id": cid, "line": n, **verdict.to_dict(),
                                 "error": f"{type(score).__name__}: {score}", "model_version": bundle.version},
                                section)
        else:
            yield policy.answer(result_line(cid, score, policy.verdict(bundle, score, text, section)), section)


def score_chunk(bundle, chunk, policy: Policy) -> list[tuple[int, dict]]:
    """[(line number, result line)] for one chunk of parsed lines [(n, (id, text, article))]: the unit of work
    every executor runs (in process, in a forked worker, on a Dask worker), so all give the same output."""
    return [(n, result) for (n, _), result in zip(chunk, _score_batch(bundle, chunk, policy))]


def _lengths(bundle, items) -> list[int]:
    """Token counts of the comments (the encoder's tokenizer), else their lengths in characters."""
    texts = [t for _, t, _ in items]
    if bundle is None:  # scoring happens elsewhere (Dask): the tokenizer alone, not the whole bundle
        from models.encoder import token_counts
        return token_counts(texts)
    counter = getattr(bundle, "token_counts", None)
    return list(counter(texts)) if counter is not None else [len(t) for t in texts]


def plan_window(bundle, window, batch_size: int):
    """(error results, chunks) for one window of numbered lines: the parsed lines sorted by token count and cut
    into batches of similar length (less padding in the encoder); chunk order and content depend on the input only."""
    errors, good = [], []
    for n, item in window:
        if isinstance(item, Exception):
            errors.append((n, {"id": getattr(item, "cid", None), "line": n, "error": str(item)}))
        else:
            good.append((n, item))
    if good:
        lengths = _lengths(bundle, [item for _, item in good])
        good = [good[i] for i in sorted(range(len(good)), key=lambda i: (lengths[i], good[i][0]))]
    return errors, [good[i:i + batch_size] for i in range(0, len(good), batch_size)]


def _parsed(lines, window: int):
    numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
    while True:
        chunk = list(islice(numbered, window))
        if not chunk:
            return
        out = []
        for n, line in chunk:
            try:
                out.append((n, parse_line(line, n)))
            except ValueError as e:
                out.append((n, e))
        yield out


class _Done:
    """A finished future, for the in-process executor."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value

    def done(self):
        return True


class InProcess:
    def __init__(self, bundle, policy):
        self.bundle, self.policy = bundle, policy

    def submit(self, chunk):
        return _Done(score_chunk(self.bundle, chunk, self.policy))

    def close(self, stats):
        stats["peak_rss_mb"] = _maxrss_mb(resource.RUSAGE_SELF)


def _maxrss_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


_forked: dict = {}  # the bundle and policy a forked worker inherits from its parent


def _init_forked(threads: int):
    """In each forked worker: the encoder and the trees' OpenMP pool use this worker's share of the cores."""
    from models.encoder import set_threads

    set_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
        _forked["limits"] = threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        pass


def _forked_chunk(chunk):
    return score_chunk(_forked["bundle"], chunk, _forked["policy"])


class Forked:
    """`--jobs N`: N worker processes forked after the bundle is loaded, so its arrays are shared copy-on-write.
    The parent never scores: ONNX Runtime's sessions and thread pools are created in each worker, after the fork."""

    def __init__(self, bundle, policy, jobs: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _forked.update(bundle=bundle, policy=policy)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the parent tokenises before forking
        gc.collect()
        gc.freeze()  # the loaded bundle's objects: the collector in the workers leaves their pages shared
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_init_forked, initargs=(max(1, cores // jobs),))

    def submit(self, chunk):
        return self.pool.submit(_forked_chunk, chunk)

    def close(self, stats):
        self.pool.shutdown(wait=True)
        gc.unfreeze()
        _forked.clear()
        stats["peak_rss_mb"] = _maxrss_mb(resource.RUSAGE_SELF)
        stats["worker_peak_rss_mb"] = _maxrss_mb(resource.RUSAGE_CHILDREN)


_dask_bundles: dict = {}  # on each Dask worker: the bundles it has loaded, by source


def _dask_bundle(source):
    """The bundle for `source` (a bundle folder, None for the shipped one, or a picklable zero-argument callable),
    loaded once per worker process and shared by every partition it scores."""
    key = source if source is None or isinstance(source, str) else \
        ("callable", getattr(source, "__module__", ""), getattr(source, "__qualname__", repr(source)))
    bundle = _dask_bundles.get(key)
    if bundle is None:
        import threading

        with _dask_lock.setdefault("lock", threading.Lock()):
            bundle = _dask_bundles.get(key)
            if bundle is None:
                try:
                    from distributed import get_worker
                    threads = get_worker().state.nthreads
                except (ImportError, ValueError, AttributeError):
                    threads = 1
                from models.encoder import set_threads
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
                set_threads(max(1, cores // max(1, threads)))
                bundle = _dask_bundles[key] = models.load_bundle(source) if source is None or isinstance(
                    source, str) else source()
    return bundle


_dask_lock: dict = {}


def _dask_chunk(source, chunk, policy):
    return score_chunk(_dask_bundle(source), chunk, policy)


class DaskExecutor:
    """Batches scored on a Dask cluster: `address` "local" starts a LocalCluster of `jobs` single-threaded worker
    processes; otherwise the scheduler's address (tcp://host:8786). Workers need this package and the bundle folder
    at the same path (or the shipped bundle: source None)."""

    def __init__(self, address: str, source=None, jobs: int = 2):
        from distributed import Client, LocalCluster

        self.cluster = None
        if address == "local":
            self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            self.client = Client(address)
        self.source = source
        info = self.client.scheduler_info().get("workers") or {}
        self.jobs = sum(w.get("nthreads", 1) for w in info.values()) or jobs

    def submit(self, chunk):
        return self.client.submit(_dask_chunk, self.source, chunk, self._policy, pure=False)

    def bind(self, policy):
        self._policy = policy
        return self

    def close(self, stats):
        stats["dask_workers"] = len(self.client.scheduler_info().get("workers") or {})
        stats["peak_rss_mb"] = _maxrss_mb(resource.RUSAGE_SELF)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def score_stream(bundle, lines: IO[str], out: IO[str], batch_size: int = 64, policy: Policy | None = None, *,
                 window: int | None = None, jobs: int = 1, executor=None, stats: dict | None = None) -> dict:
    """Score every non-blank line of `lines` into `out`, in input order; returns counts {scored, errors}.

    Lines are read `window` at a time (default 8 batches), sorted by token count inside the window and scored in
    batches of `batch_size`; at most 2 x jobs batches are in flight, so memory is bounded whatever the input size.
    jobs > 1 scores in forked worker processes; `executor` (e.g. `service.batch.DaskExecutor`) takes the batches
    elsewhere. Every way gives the same output. `stats` is filled with peak memory figures."""
    policy = policy or Policy()
    window = window or batch_size * 8
    stats = {} if stats is None else stats
    if executor is None:
        executor = Forked(bundle, policy, jobs) if jobs > 1 else InProcess(bundle, policy)
    elif hasattr(executor, "bind"):
        executor.bind(policy)
    limit = 2 * max(1, jobs, getattr(executor, "jobs", 1))
    counts = {"scored": 0, "errors": 0}
    pending: deque = deque()  # windows in input order: [ready results, futures]
    in_flight = 0

    def write_head():
        nonlocal in_flight
        results, futures = pending.popleft()
        for f in futures:
            results.extend(f.result())
        in_flight -= len(futures)
        for _, result in sorted(results, key=lambda r: r[0]):
            counts["errors" if "error" in result else "scored"] += 1
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()

    try:
        for win in _parsed(lines, window):
            errors, chunks = plan_window(bundle, win, batch_size)
            entry = (errors, [])
            pending.append(entry)
            for chunk in chunks:
                while in_flight >= limit and pending and pending[0] is not entry:
                    write_head()
                entry[1].append(executor.submit(chunk))
                in_flight += 1
            while pending and all(f.done() for f in pending[0][1]):  # write what is ready before reading on
                write_head()
        while pending:
            write_head()
    finally:
        executor.close(stats)
    return counts
