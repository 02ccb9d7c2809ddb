"""The moderators' pages under /review: log-in, queue, decisions (one or bulk), audit log, dashboard."""
import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from models import reasons as registry
from service.db import ApiKey, Article, db_session

from . import actions, dashboard, queue
from .tables import AuditEntry
from .users import authenticate, check_csrf, current_user, log_in, log_out, login_required

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates", static_folder="static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_BULK = 200
LOGIN_WINDOW = dt.timedelta(minutes=15)


@bp.before_request
def _csrf():
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
    error, status = None, 200
    if request.method == "POST":
        session = db_session()
        username = request.form.get("username", "").strip()[:255]
        if _recent_failures(session, username) >= int(current_app.config["REVIEW_LOGIN_MAX_FAILURES"]):
            error, status = "Too many failed log-ins for this user; try again in 15 minutes.", 429
        else:
            user = authenticate(session, username, request.form.get("password", ""))
            if user is not None:
                log_in(user)
                actions.audit(session, username=user.username, user_id=user.id, action="login")
                session.commit()
                return redirect(_safe_next(request.args.get("next")))
            actions.audit(session, username=username, action="login_failed", ip=request.remote_addr)
            session.commit()
            error, status = "Unknown user or wrong password.", 401
    return render_template("review/login.html", error=error), status


def _recent_failures(session, username: str) -> int:
    """Failed log-ins for this name in the last 15 minutes (from the audit log: shared by all workers)."""
    since = dt.datetime.now(dt.timezone.utc) - LOGIN_WINDOW
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.username == username, AuditEntry.action == "login_failed", AuditEntry.at >= since))


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
        rows, next_cursor = queue.page(session, sort=sort, after=request.args.get("after"),
                                       size=int(current_app.config["REVIEW_PAGE_SIZE"]), **filters)
    except queue.BadFilter as exc:
        return render_template("review/error.html", message=str(exc)), 400
    items = [{"comment": c, "article": a, "pieces": queue.highlight(c.text, c.spans),
              "history": queue.author_history(session, c)}
             for c, a in rows]
    # the sites that have API keys (a small table: no scan of the comments for the drop-down)
    sites = session.scalars(select(ApiKey.site).distinct().order_by(ApiKey.site)).all()
    next_url = next_cursor and url_for("review.queue_page", after=next_cursor, sort=sort,
                                       **{k: v for k, v in filters.items() if v})
    return render_template("review/queue.html", items=items, filters=filters, sort=sort, sorts=queue.SORTS,
                           next_url=next_url, sites=sites)


def _flag(name):
    value = request.form.get(name, "")
    return {"yes": True, "no": False}.get(value)


def _back():
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/item/<int:pk>/decide")
@login_required()
def decide(pk):
    action = request.form.get("action")
    if action not in actions.STATUS_FOR:
        abort(400, description="action must be approve or reject")
    try:
        comment = actions.decide(db_session(), current_app.config, pk, action, user=current_user(),
                                 abusive=_flag("abusive"), off_topic=_flag("off_topic"),
                                 reject_reason=request.form.get("reject_reason"))
    except LookupError:
        abort(404)
    except actions.AlreadyDecided as exc:
        flash(f"Not changed: comment {exc.comment.comment_id} was already {exc.comment.status} "
              "by another moderator.", "conflict")
        return _back()
    flash(f"Comment {comment.comment_id} {comment.status}.", "ok")
    return _back()


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
    for pk in ids:
        try:
            actions.decide(db_session(), current_app.config, pk, action, user=current_user(), bulk=True,
                           reject_reason=request.form.get("reject_reason"))
            done += 1
        except (LookupError, actions.AlreadyDecided):
            skipped += 1
    flash(f"{done} comment(s) {actions.STATUS_FOR[action]}."
          + (f" {skipped} skipped: already decided by someone else or gone." if skipped else ""),
          "conflict" if skipped else "ok")
    return _back()


@bp.get("/article/<int:pk>")
@login_required()
def article(pk):
    art = db_session().get(Article, pk) or abort(404)
    return render_template("review/article.html", article=art)


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
    entries = db_session().scalars(query.order_by(AuditEntry.id.desc()).limit(500)).all()
    return render_template("review/audit.html", entries=entries, args=args)


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
                           shadow_reasons=dashboard.shadow_reasons())


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
