"""How fast is the moderators' queue with many held comments? Keyset pages vs an OFFSET baseline, same run.

    .venv/bin/python bench/review_queue.py [--rows 100000] [--database-url postgresql://postgres@127.0.0.1/test]

Fills a fresh database (SQLite file in a temp folder by default) with N held comments, then times, for each
sort order, the first page and a page half-way down the queue: the queue's keyset query (what /review uses),
the same page by OFFSET (the baseline), and the whole /review page through Flask (rendering included).
Prints medians in milliseconds and the OFFSET/keyset ratio.
"""
import argparse
import datetime as dt
import random
import statistics
import tempfile
import time

from sqlalchemy import and_, insert, select, text

from service import create_app
from service.db import Article, Comment, db_session


def fill(session, rows: int, seed: int = 0):
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    session.execute(insert(Article), [{"site": f"site{s}", "article_id": f"a{a}", "title": f"Article {a}",
                                       "body": "body", "section": rng.choice(["news", "sport", "culture"]),
                                       "updated_at": start} for s in range(3) for a in range(500)])
    batch = []
    for i in range(rows):
        abusive, off = rng.random(), rng.random()
        batch.append({"site": f"site{i % 3}", "comment_id": f"c{i}", "article_id": f"a{rng.randrange(500)}",
                      "author_id": f"u{rng.randrange(20000)}", "text": f"held comment number {i} " * 3,
                      "received_at": start + dt.timedelta(seconds=37 * i), "scores": {"abusive": abusive,
                      "off_topic": off, "spam": 0.0}, "spans": [], "decision": "hold",
                      "reasons": ["abusive"] if abusive > off else ["off_topic"], "model_version": "bench",
                      "status": "held", "updated_at": start, "review_priority": max(abusive, off)})
        if len(batch) == 5000:
            session.execute(insert(Comment), batch)
            batch = []
    if batch:
        session.execute(insert(Comment), batch)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()


def median_ms(fn, repeat: int) -> float:
    fn()   # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def offset_page(session, sort, offset, size=25):
    order = {"score": (Comment.review_priority.desc(), Comment.id.desc()),
             "oldest": (Comment.received_at.asc(), Comment.id.asc())}[sort]
    query = (select(Comment, Article)
             .outerjoin(Article, and_(Article.site == Comment.site, Article.article_id == Comment.article_id))
             .where(Comment.status == "held").order_by(*order).offset(offset).limit(size + 1))
    return session.execute(query).all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOAD_BUNDLE_AT_START": False,
                      "REVIEW_SECURE_COOKIES": False, "RATE_LIMIT": 0, "TESTING": True})
    from service.review import queue
    from service.review.users import create_user
    with app.app_context():
        session = db_session()
        if session.scalar(select(Comment.id).limit(1)) is not None:
            raise SystemExit(f"{url} already has comments: give an empty database")
        t0 = time.perf_counter()
        fill(session, args.rows)
        print(f"filled {args.rows} held comments in {time.perf_counter() - t0:.1f} s ({session.bind.dialect.name})")
        create_user(session, "bench", "bench-password", "moderator")
    client = app.test_client()
    page = client.get("/review/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/review/login", data={"username": "bench", "password": "bench-password", "csrf_token": token})

    depth = args.rows // 2
    print("\n| sort | page | keyset query ms | OFFSET query ms (baseline) | OFFSET / keyset | /review page ms |")
    print("|---|---|---|---|---|---|")
    with app.app_context():
        session = db_session()
        for sort in ("score", "oldest"):
            # the cursor that a moderator would hold after paging down to `depth`
            row = offset_page(session, sort, depth - 1, size=0)[0][0]
            cursor = queue._encode(queue._sort_key(row, sort))
            for label, after, offset in (("first", None, 0), (f"row {depth}", cursor, depth)):
                keyset = median_ms(lambda: queue.page(session, sort=sort, after=after), args.repeat)
                baseline = median_ms(lambda: offset_page(session, sort, offset), args.repeat)
                query = {"sort": sort, **({"after": after} if after else {})}
                http = median_ms(lambda: client.get("/review/", query_string=query), args.repeat)
                rows_k = [c.id for c, _ in queue.page(session, sort=sort, after=after)[0]]
                rows_o = [c.id for c, _ in offset_page(session, sort, offset)[:25]]
                assert rows_k == rows_o, "keyset and OFFSET pages differ"
                print(f"| {sort} | {label} | {keyset:.2f} | {baseline:.2f} | {baseline / keyset:.1f}x | {http:.1f} |")
        plan_sql = str(select(Comment.id).where(Comment.status == "held")
                       .order_by(Comment.review_priority.desc(), Comment.id.desc()).limit(26)
                       .compile(session.bind, compile_kwargs={"literal_binds": True}))
        if session.bind.dialect.name == "sqlite":
            plan = session.execute(text("EXPLAIN QUERY PLAN " + plan_sql)).all()
            print("\nplan (score sort):", "; ".join(str(r[-1]) for r in plan))


if __name__ == "__main__":
    main()
