"""How fast is the moderators' search (/review/search) at many stored comments? SQLite FTS5 and PostgreSQL GIN.

    .venv/bin/python bench/search_latency.py [--rows 1000000] [--backend sqlite postgresql]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--repeat 20]

Fills a fresh database per backend (SQLite: a file in a temp folder; PostgreSQL: a throw-away schema, dropped
afterwards) with N synthetic comments (words drawn from a Zipf-like made-up vocabulary, so some words are in
most comments and some in a few), through the real migrations and their FTS triggers, then times
`service.review.search.run` (what the page runs) for each kind of query: a common word, a rare word, two
words, an author, a comment id, words + author, and a word that matches nothing. Prints a table of median and
95th percentile milliseconds, with the number of matches each query has in the whole store.
"""
import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
import uuid

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from service.db import Comment, make_engine, upgrade
from service.review import search

VOCABULARY = 20000


def word(i: int) -> str:
    """The i-th made-up word (lower i: more frequent)."""
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    out, n = [], i + 1
    while n:
        n, r = divmod(n, len(consonants) * len(vowels))
        out.append(consonants[r % len(consonants)] + vowels[r // len(consonants)])
    return "".join(out) + "x"


def fill(engine, rows: int, seed: int = 0) -> float:
    rng = random.Random(seed)
    cumulative, total = [], 0.0
    for r in range(VOCABULARY):
        total += 1 / (r + 1)
        cumulative.append(total)
    words = [word(i) for i in range(VOCABULARY)]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    began = time.perf_counter()
    with Session(engine) as session:
        batch = []
        for i in range(rows):
            text_words = rng.choices(words, cum_weights=cumulative, k=rng.randint(8, 40))
            status = "held" if i % 10 == 0 else "published"
            batch.append({"site": f"site{i % 3}", "comment_id": f"c{i}", "article_id": f"a{i % 5000}",
                          "author_id": f"u{rng.randrange(50000)}", "text": " ".join(text_words),
                          "received_at": start + dt.timedelta(seconds=7 * i), "scores": {}, "spans": [],
                          "decision": "hold" if status == "held" else "publish", "reasons": [],
                          "model_version": "bench", "status": status, "updated_at": start, "review_priority": 0.5})
            if len(batch) == 10000:
                session.execute(insert(Comment), batch)
                session.commit()
                batch = []
        if batch:
            session.execute(insert(Comment), batch)
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    return time.perf_counter() - began


def queries(session, rows: int) -> list[tuple[str, str]]:
    author = session.scalar(select(Comment.author_id).where(Comment.id == rows // 2))
    return [("common word", word(0)), ("rare word", word(VOCABULARY - 7)), ("two words", f"{word(3)} {word(40)}"),
            ("author", f"author:{author}"), ("comment id", f"id:c{rows // 3}"),
            ("words + author", f"{word(1)} author:{author}"), ("no match", "zzzqqq")]


def count(session, q: str) -> int:
    parsed = search.parse(q)
    stmt = select(func.count()).select_from(Comment)
    if parsed.author:
        stmt = stmt.where(Comment.author_id == parsed.author)
    if parsed.comment_id:
        stmt = stmt.where(Comment.comment_id == parsed.comment_id)
    if parsed.words:
        stmt = stmt.where(search._text_condition(session, parsed.words))
    return session.scalar(stmt)


def time_queries(engine, rows: int, repeat: int):
    out = []
    with Session(engine) as session:
        for name, q in queries(session, rows):
            search.run(session, q)   # warm the cache
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                found, _ = search.run(session, q)
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            out.append((name, q, count(session, q), len(found), statistics.median(times), p95))
    return out


def run_backend(backend: str, rows: int, repeat: int, postgres_url: str):
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="search-bench-")
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite")
        cleanup = None
    else:
        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = make_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(f"{postgres_url}?options=-csearch_path%3D{schema}")

        def cleanup():
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    try:
        upgrade(engine)
        seconds = fill(engine, rows)
        return seconds, time_queries(engine, rows, repeat)
    finally:
        engine.dispose()
        if cleanup:
            cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for backend in args.backend:
        seconds, results = run_backend(backend, args.rows, args.repeat, args.postgres_url)
        print(f"\n{backend}: {args.rows:,} comments stored in {seconds:.0f} s (insert + index); "
              f"{args.repeat} timed runs per query after one warm-up; first page of {search.LIMIT}")
        print(f"| query | q | matches in store | shown | median ms | p95 ms |\n|---|---|---:|---:|---:|---:|")
        for name, q, matches, shown, median, p95 in results:
            print(f"| {name} | `{q}` | {matches:,} | {shown} | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
