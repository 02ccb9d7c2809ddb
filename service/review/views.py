"""The moderators' pages under /review: log-in, queue, decisions (one or bulk), audit log, dashboard."""
import datetime as dt
import math

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from sqlalchemy import func, select

from models import reasons as registry
from service.db import ApiKey, Article, Comment, db_session

from . import actions, authors, dashboard, queue, search, throttle
from .tables import AuditEntry, Decision, User
from .users import authenticate, check_csrf, current_user, log_in, log_out, login_required

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates", static_folder="static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_BULK = 200


@bp.before_request
def _csrf():
    if request.method not in ("GET", "HEAD", "OPTIONS") and "csrf" not in cookie_session \
            and _cookie_cannot_come_back():
        # the real cause of the missing token: the browser kept the Secure cookie to itself over http
        abort(400, description=_INSECURE_COOKIE_ERROR)
    check_csrf()


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(bp.static_url_path or "/review/static"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("readable")
def readable(value) -> str:
    """An audit detail as a person reads it: yes/no, 'key: value' pairs, lists joined; never a Python repr."""
    if value is True or value is False:
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {readable(v)}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value)
    return str(value)


@bp.app_context_processor
def _template_globals():
    from .users import csrf_token
    # the queue's reason filter and label toggles come from the registry in models.reasons
    return {"csrf_token": csrf_token, "review_user": current_user,
            "hold_reasons": [r.name for r in registry.all_reasons() if r.holds], "labels": registry.LABELS}


def _safe_next(target: str | None) -> str:
    # only local paths under /review: never an open redirect
    if target and target.startswith("/review") and not target.startswith("//"):
        return target
    return url_for("review.queue_page")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        session = db_session()
        username = request.form.get("username", "").strip()[:255]
        address = (request.remote_addr or "unknown")[:64]
        wait = throttle.wait_seconds(session, current_app.config, address, username)
        if wait > 0:
            # only this address is slowed down for this name: the moderator logs in from anywhere else
            error, status = f"Too many failed log-ins from your address; try again in {math.ceil(wait)} s.", 429
            headers["Retry-After"] = str(math.ceil(wait))
        else:
            user = authenticate(session, username, request.form.get("password", ""))
            if user is not None:
                throttle.record_success(session, address, username)
                log_in(user)
                actions.audit(session, username=user.username, user_id=user.id, action="login")
                session.commit()
                return redirect(_safe_next(request.args.get("next")))
            known = session.scalar(select(User.id).where(User.username == username)) is not None
            summary = throttle.record_failure(session, current_app.config, address, username, known_user=known)
            if known:
                actions.audit(session, username=username, action="login_failed", ip=address)
            elif summary is not None:
                actions.audit(session, username="(unknown names)", action="login_failed_unknown", **summary)
            session.commit()
            error, status = "Unknown user or wrong password.", 401
    elif _cookie_cannot_come_back():
        error = _INSECURE_COOKIE_ERROR
    return render_template("review/login.html", error=error), status, headers


_INSECURE_COOKIE_ERROR = (
    "This server sends its session cookie with the Secure flag (REVIEW_SECURE_COOKIES is on), but this page "
    "was reached over plain http, so the browser will not send the cookie back and every form will fail. "
    "Use https, or set REVIEW_SECURE_COOKIES=false for a local trial over http.")


def _cookie_cannot_come_back() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) and not request.is_secure


@bp.post("/logout")
@login_required()
def logout():
    log_out()
    return redirect(url_for("review.login"))


def _filters() -> dict:
    args = request.args
    return {name: (args.get(name) or "").strip() or None for name in ("site", "section", "reason", "since", "until")}


@bp.get("/")
@login_required()
def queue_page():
    filters = _filters()
    sort = request.args.get("sort") or "score"
    session = db_session()
    try:
        got = queue.browse(session, sort=sort, after=request.args.get("after"), before=request.args.get("before"),
                           size=int(current_app.config["REVIEW_PAGE_SIZE"]), sites=current_user().sites, **filters)
    except queue.BadFilter as exc:
        return render_template("review/error.html", message=str(exc)), 400
    rows = got["rows"]
    standing = authors.statuses(session, [(c.site, c.author_id) for c, _ in rows])
    counts = queue.author_counts_many(session, [(c.site, c.author_id) for c, _ in rows])
    items = [{"comment": c, "article": a, "pieces": queue.highlight(c.text, c.spans),
              "standing": standing.get((c.site, c.author_id)),
              "history": queue.author_history(session, c),
              "counts": counts.get((c.site, c.author_id), {})}
             for c, a in rows]
    # the sites that have API keys (a small table: no scan of the comments for the drop-down)
    sites = session.scalars(select(ApiKey.site).distinct().order_by(ApiKey.site)).all()
    sites = [s for s in sites if current_user().may_review(s)]
    kept = {k: v for k, v in filters.items() if v}
    next_url = got["next"] and url_for("review.queue_page", after=got["next"], sort=sort, **kept)
    prev_url = got["prev"] and url_for("review.queue_page", before=got["prev"], sort=sort, **kept)
    last = session.get(Comment, cookie_session["undo"]) if cookie_session.get("undo") else None
    return render_template("review/queue.html", items=items, filters=filters, sort=sort, sorts=queue.SORTS,
                           next_url=next_url, prev_url=prev_url, total=got["total"], position=got["position"],
                           sites=sites,
                           undo_last=last if last is not None and last.status in ("approved", "rejected") else None)


def _require_site(site: str):
    """403 unless the logged-in user reviews this site."""
    if not current_user().may_review(site):
        abort(403, description=f"you do not review site {site}")


def _flag(name):
    value = request.form.get(name, "")
    return {"yes": True, "no": False}.get(value)


def _back():
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/item/<int:pk>/decide", endpoint="decide")
@login_required()
def decide_view(pk):
    action = request.form.get("action")
    if action not in actions.STATUS_FOR:
        abort(400, description="action must be approve or reject")
    _require_site((db_session().get(Comment, pk) or abort(404)).site)
    try:
        comment = actions.record_decision(db_session(), current_app.config, pk, action, user=current_user(),
                                 **{label: _flag(label) for label in registry.LABELS},
                                 reject_reason=request.form.get("reject_reason"))
    except LookupError:
        abort(404)
    except actions.AlreadyDecided as exc:
        if actions.same_as_last(db_session(), exc.comment, action, current_user()):
            flash(f"Comment {exc.comment.comment_id} {exc.comment.status} (you had already done so).", "ok")
        else:
            flash(f"Not changed: comment {exc.comment.comment_id} was already {exc.comment.status} "
                  "by another moderator.", "conflict")
        return _back()
    flash(f"Comment {comment.comment_id} {comment.status}.", "ok")
    cookie_session["undo"] = comment.id   # the queue offers an Undo button (key u) for this one
    return _back()


@bp.post("/item/<int:pk>/undo")
@login_required()
def undo(pk):
    _require_site((db_session().get(Comment, pk) or abort(404)).site)
    try:
        comment = actions.undo(db_session(), current_app.config, pk, user=current_user())
    except LookupError:
        abort(404)
    except actions.CannotUndo as exc:
        flash(f"Not undone: {exc}.", "conflict")
        return _back()
    cookie_session.pop("undo", None)
    flash(f"Undone: comment {comment.comment_id} is held again.", "ok")
    return _back()


@bp.post("/author")
@login_required()
def author_action():
    site, author_id = request.form.get("site", "").strip(), request.form.get("author_id", "").strip()
    action = request.form.get("action", "")
    if action not in authors.ACTIONS or not site or not author_id:
        abort(400, description="site, author_id and action (trust, ban or clear) are required")
    _require_site(site)
    session = db_session()
    status = authors.set_status(session, current_app.config, site, author_id, action, user=current_user(),
                                note=(request.form.get("note") or "").strip()[:1000])
    session.commit()
    flash(f"Author {author_id} on {site}: {status or 'no standing'} (applies to their next comment).", "ok")
    return _back()


@bp.get("/recent")
@login_required()
def recent():
    """Recently decided comments, newest first; the moderator's own are undoable within the window."""
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        return render_template("review/error.html", message="before must be a number"), 400
    size = 50
    rows = actions.recent_decisions(db_session(), before=before, limit=size + 1, sites=current_user().sites)
    more = rows[size - 1][0].id if len(rows) > size else None
    window = float(current_app.config.get("REVIEW_UNDO_SECONDS", 600))
    now = dt.datetime.now(dt.timezone.utc)

    def undoable(decision, comment):
        at = decision.decided_at if decision.decided_at.tzinfo else decision.decided_at.replace(tzinfo=dt.timezone.utc)
        return decision.user_id == current_user().id and comment.status == actions.STATUS_FOR[decision.action] \
            and (now - at).total_seconds() <= window
    latest = {}
    for d, c, _ in rows:
        latest.setdefault(c.id, d.id)   # only a comment's newest decision can be undone
    items = [{"decision": d, "comment": c, "who": who, "undoable": latest[c.id] == d.id and undoable(d, c)}
             for d, c, who in rows[:size]]
    return render_template("review/recent.html", items=items, window=int(window),
                           next_url=more and url_for("review.recent", before=more))


@bp.post("/bulk")
@login_required()
def bulk():
    action = request.form.get("action")
    if action not in actions.STATUS_FOR:
        abort(400, description="action must be approve or reject")
    try:
        ids = sorted({int(v) for v in request.form.getlist("ids")})
    except ValueError:
        abort(400, description="ids must be numbers")
    if not ids:
        flash("Nothing selected.", "conflict")
        return _back()
    if len(ids) > MAX_BULK:
        abort(400, description=f"at most {MAX_BULK} items at once")
    done, skipped = 0, 0
    allowed = set(db_session().scalars(select(Comment.id).where(Comment.id.in_(ids))).all()) \
        if current_user().sites is None else set(db_session().scalars(
            select(Comment.id).where(Comment.id.in_(ids), Comment.site.in_(current_user().sites))).all())
    for pk in ids:
        if pk not in allowed:
            skipped += 1   # gone, or a site this moderator does not review
            continue
        try:
            actions.record_decision(db_session(), current_app.config, pk, action, user=current_user(), bulk=True,
                           reject_reason=request.form.get("reject_reason"))
            done += 1
        except actions.AlreadyDecided as exc:
            if actions.same_as_last(db_session(), exc.comment, action, current_user()):
                done += 1   # this moderator's own earlier submit of the same selection
            else:
                skipped += 1
        except LookupError:
            skipped += 1
    flash(f"{done} comment(s) {actions.STATUS_FOR[action]}."
          + (f" {skipped} skipped: already decided by someone else, gone, or not a site you review."
             if skipped else ""),
          "conflict" if skipped else "ok")
    return _back()


@bp.get("/article/<int:pk>")
@login_required()
def article(pk):
    art = db_session().get(Article, pk) or abort(404)
    _require_site(art.site)
    return render_template("review/article.html", article=art)


@bp.get("/comment/<int:pk>")
@login_required()
def comment_page(pk):
    """One comment with everything a moderator judges it by: article, author and their record, thread, history."""
    session = db_session()
    comment = session.get(Comment, pk) or abort(404)
    _require_site(comment.site)
    art = session.scalar(select(Article).where(Article.site == comment.site,
                                               Article.article_id == comment.article_id)) if comment.article_id else None
    decisions = session.execute(select(Decision, User.username).outerjoin(User, User.id == Decision.user_id)
                                .where(Decision.comment_pk == pk).order_by(Decision.id)).all()
    return render_template(
        "review/comment.html", comment=comment, article=art, pieces=queue.highlight(comment.text, comment.spans),
        counts=queue.author_counts(session, comment.site, comment.author_id),
        standing=authors.status_of(session, comment.site, comment.author_id),
        history=queue.author_history(session, comment, limit=20), thread=queue.thread(session, comment),
        decisions=decisions)


@bp.get("/search")
@login_required()
def search_page():
    q = (request.args.get("q") or "").strip()[:500]
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        return render_template("review/error.html", message="before must be a number"), 400
    rows, more = search.run(db_session(), q, before=before, sites=current_user().sites)
    next_url = more and url_for("review.search_page", q=q, before=more)
    return render_template("review/search.html", q=q, rows=rows, next_url=next_url, parsed=search.parse(q))


@bp.get("/audit")
@login_required("admin")
def audit():
    args = request.args
    try:
        since = queue.parse_date(args.get("since"), "since")
        until = queue.parse_date(args.get("until"), "until")
    except queue.BadFilter as exc:
        return render_template("review/error.html", message=str(exc)), 400
    query = select(AuditEntry)
    if args.get("user"):
        query = query.where(AuditEntry.username == args["user"].strip())
    if args.get("action"):
        query = query.where(AuditEntry.action == args["action"].strip())
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until + dt.timedelta(days=1))
    try:
        before = int(args["before"]) if args.get("before") else None
    except ValueError:
        return render_template("review/error.html", message="before must be a number"), 400
    if before is not None:
        query = query.where(AuditEntry.id < before)
    size = int(current_app.config.get("REVIEW_AUDIT_PAGE_SIZE", 100))
    entries = db_session().scalars(query.order_by(AuditEntry.id.desc()).limit(size + 1)).all()
    kept = {k: v for k, v in args.items() if k in ("user", "action", "since", "until") and v}
    older = url_for("review.audit", before=entries[size - 1].id, **kept) if len(entries) > size else None
    newer = url_for("review.audit", **kept) if before is not None else None
    return render_template("review/audit.html", entries=entries[:size], args=args, older=older, newer=newer)


@bp.get("/dashboard")
@login_required("admin")
def dashboard_page():
    try:
        days = max(1, min(365, int(request.args.get("days", 30))))
    except ValueError:
        days = 30
    stats = dashboard.compute(db_session(), days=days)
    return render_template("review/dashboard.html", stats=stats, chart=dashboard.chart_svg(stats["per_day"]),
                           days=days, shadow=dashboard.shadow(db_session(), days=days),
                           shadow_reasons=dashboard.shadow_reasons(),
                           blind=dashboard.threshold_warnings(db_session(), days=days))


@bp.get("/export")
@login_required("admin")
def export_all():
    """The labelled export of every site (`?since=YYYY-MM-DD&format=csv|jsonl`) for a logged-in admin."""
    from .api import export_response
    user = current_user()
    actions.audit(db_session(), username=user.username, user_id=user.id, action="export",
                  since=request.args.get("since"), format=request.args.get("format", "jsonl"))
    db_session().commit()
    return export_response(None)
