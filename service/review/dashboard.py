"""Admin dashboard numbers: held / approved / rejected per day, hold rate, agreement with the model,
time-to-decision, webhook backlog; and a bar chart drawn as server-side SVG (no script, CSP-friendly)."""
import datetime as dt
import statistics

from markupsafe import Markup, escape
from sqlalchemy import func, select

from models import reasons as registry
from service.db import Comment, ThresholdWarning, utcnow

from .tables import Decision, OutboxItem

COLOURS = {"held": "#d08a00", "approved": "#2e7d32", "rejected": "#c62828"}


def _day(value) -> str:
    return str(value)[:10]


def compute(session, days: int = 30, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    start = (now - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = {_day(start + dt.timedelta(days=i)): {"held": 0, "approved": 0, "rejected": 0} for i in range(days)}

    received = session.execute(
        select(func.date(Comment.received_at), Comment.decision, func.count())
        .where(Comment.received_at >= start).group_by(func.date(Comment.received_at), Comment.decision)).all()
    total = held = 0
    for day, decision, count in received:
        total += count
        if decision == "hold":
            held += count
            per_day.setdefault(_day(day), {"held": 0, "approved": 0, "rejected": 0})["held"] += count

    decided = session.execute(
        select(Decision.action, Decision.abusive, Decision.off_topic, Decision.decided_at,
               Comment.received_at, Comment.reasons)
        .join(Comment, Comment.id == Decision.comment_pk)
        .where(Decision.decided_at >= start, Decision.source == "moderator")).all()
    minutes, agree_abuse, agree_topic = [], 0, 0
    rejected = 0
    for action, abusive, off_topic, decided_at, received_at, reasons in decided:
        status = "approved" if action == "approve" else "rejected"
        per_day.setdefault(_day(decided_at), {"held": 0, "approved": 0, "rejected": 0})[status] += 1
        rejected += action == "reject"
        predicted = registry.labels_for(reasons)
        agree_abuse += bool(abusive) == predicted["abusive"]
        agree_topic += bool(off_topic) == predicted["off_topic"]
        if decided_at and received_at:
            a, b = decided_at.replace(tzinfo=None), received_at.replace(tzinfo=None)
            minutes.append(max(0.0, (a - b).total_seconds() / 60))
    n = len(decided)
    outbox = dict(session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all())
    return {
        "days": days, "per_day": [{"day": d, **v} for d, v in sorted(per_day.items())],
        "received": total, "held": held, "hold_rate": held / total if total else None,
        "decisions": n,
        # everything in the queue was held by the model: a rejection agrees with it, an approval overrules it
        "agreement": rejected / n if n else None,
        "agreement_abusive": agree_abuse / n if n else None,
        "agreement_off_topic": agree_topic / n if n else None,
        "median_minutes": statistics.median(minutes) if minutes else None,
        "p90_minutes": statistics.quantiles(minutes, n=10)[-1] if len(minutes) >= 2 else (minutes or [None])[0],
        "waiting": session.scalar(select(func.count()).select_from(Comment).where(Comment.status == "held")),
        "outbox": {k: outbox.get(k, 0) for k in ("pending", "delivered", "failed")},
    }


def chart_svg(per_day: list[dict], width: int = 720, height: int = 220) -> Markup:
    """Grouped bars per day (held, approved, rejected) as an inline SVG element."""
    pad_l, pad_b, pad_t = 40, 30, 10
    top = max([max(d["held"], d["approved"], d["rejected"]) for d in per_day] + [1])
    slot = (width - pad_l) / max(1, len(per_day))
    bar = max(1.0, slot / 4)
    plot_h = height - pad_b - pad_t
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="held, approved and rejected per day">',
             f'<text x="2" y="{pad_t + 10}" font-size="11">{top}</text>',
             f'<text x="2" y="{height - pad_b}" font-size="11">0</text>',
             f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}" stroke="#888"/>']
    for i, day in enumerate(per_day):
        x0 = pad_l + i * slot
        for j, key in enumerate(("held", "approved", "rejected")):
            h = plot_h * day[key] / top
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - pad_b - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[key]}"><title>{escape(day["day"])} {key}: '
                         f'{day[key]}</title></rect>')
        if len(per_day) <= 10 or i % max(1, len(per_day) // 8) == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height - 8}" font-size="10">{escape(day["day"][5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def shadow_reasons() -> list[str]:
    """The reasons that hold a comment, from the registry (a reader's flag never decides a new comment)."""
    return registry.names(registry.SCORE, registry.RULE, registry.SYSTEM)


def shadow(session, days: int = 30, now: dt.datetime | None = None) -> list[dict]:
    """Per day and site, for comments decided in shadow mode: how many, and the share the policy would have held,
    overall and per reason (a comment held for two reasons counts under both)."""
    now = now or utcnow()
    start = (now - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(func.date(Comment.received_at), Comment.site, Comment.would_decision, Comment.reasons)
        .where(Comment.received_at >= start, Comment.mode == "shadow")
        .execution_options(yield_per=5000))
    names = shadow_reasons()
    out: dict = {}
    for day, site, would, reasons in rows:
        entry = out.setdefault((_day(day), site), {"n": 0, "held": 0, **{r: 0 for r in names}})
        entry["n"] += 1
        if would == "hold":
            entry["held"] += 1
            for reason in set(reasons or []) & set(names):
                entry[reason] += 1
    return [{"day": day, "site": site, "comments": e["n"], "hold_rate": e["held"] / e["n"],
             "reasons": {r: e[r] / e["n"] for r in names}}
            for (day, site), e in sorted(out.items())]


def threshold_warnings(session, days: int = 30, now: dt.datetime | None = None) -> list[ThresholdWarning]:
    """Perspective clients seen in the period asking for a threshold that catches almost nothing, latest first."""
    now = now or utcnow()
    start = (now - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return session.scalars(select(ThresholdWarning).where(ThresholdWarning.last_seen >= start)
                           .order_by(ThresholdWarning.last_seen.desc()).limit(100)).all()
