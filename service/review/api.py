"""The CMS side of review: `POST /v1/feedback` (reader flags, corrections) and `GET /v1/export` (labelled data)."""
from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from sqlalchemy import select

from models import reasons as registry
from service.api import json_body
from service.auth import require_api_key
from service.db import Comment, db_session
from service.errors import ApiError

from . import export
from .actions import audit, record_correction
from .queue import BadFilter, parse_date

bp = Blueprint("review_api", __name__, url_prefix="/v1")

FEEDBACK_TYPES = ("flag", "correction")
MAX_NOTE = 2000


def _openapi():
    """/v1/feedback and /v1/export in /openapi.json and /docs, beside the core endpoints."""
    from service.openapi import _errors, _json

    def error(code, text):
        return {str(code): {"description": text, "content": _json("Error")}}

    label = {"type": ["boolean", "null"], "description": "corrected label (absent: unchanged)"}
    feedback_request = {
        "type": "object", "required": ["comment_id", "type"], "additionalProperties": True,
        "properties": {
            "comment_id": {"type": "string", "minLength": 1, "pattern": "\\S",
                           "description": "the CMS's id of a comment sent to /v1/moderate"},
            "type": {"type": "string", "enum": list(FEEDBACK_TYPES),
                     "description": "flag: a reader reported it, back into the queue; correction: the CMS overrules "
                                    "the decision and it becomes a label"},
            "decision": {"type": "string", "enum": ["publish", "reject"], "description": "with type correction"},
            **{name: label for name in registry.LABELS},
            "note": {"type": "string", "maxLength": MAX_NOTE}},
        "example": {"comment_id": "c1", "type": "correction", "decision": "reject", "abusive": True}}
    feedback_result = {"type": "object", "properties": {
        "comment_id": {"type": "string"},
        "status": {"type": "string", "enum": ["published", "held", "approved", "rejected", "analyzed"]},
        "reasons": {"type": "array", "items": {"type": "string"}}}}
    row = {"type": "object", "description": "one line of the labelled export (docs/training.md, 'Labelled data format')",
           "properties": {name: {"type": ["integer", "null"], "enum": [0, 1, None]} if name in registry.LABELS
                          else {"type": "string"}
                          for name in export.COLUMNS}}
    paths = {
        "/v1/feedback": {"post": {
            "summary": "Report a published comment (reader flag) or correct a decision (becomes a label)",
            "requestBody": {"required": True, "content": _json("FeedbackRequest")},
            "responses": {"200": {"description": "the comment's new state", "content": _json("FeedbackResult")},
                          **_errors(400, 401, 404, 413, 415, 429),
                          **error(409, "a flag on a comment that is already rejected"),
                          **error(422, "a field has a bad value (the error names it)")}}},
        "/v1/export": {"get": {
            "summary": "The key's site's human-labelled comments, the data `moderation train --labelled` reads",
            "parameters": [
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(export.FORMATS),
                                                             "default": "jsonl"}},
                {"name": "since", "in": "query", "description": "decisions from this date (YYYY-MM-DD) on",
                 "schema": {"type": "string", "format": "date"}}],
            "responses": {"200": {"description": "streamed file, one row per decided comment (latest decision)",
                                  "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/LabelledRow"}},
                                              "text/csv": {"schema": {"type": "string"}}}},
                          **_errors(401, 429), **error(422, "bad format or since")}}},
    }
    return paths, {"FeedbackRequest": feedback_request, "FeedbackResult": feedback_result, "LabelledRow": row}


@bp.record_once
def _document(state):
    from service.openapi import add_paths

    add_paths(state.app, *_openapi())


def _optional_bool(data, name):
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, f"{name} must be true, false or absent", field=name)
    return value


@bp.post("/feedback")
@require_api_key
def feedback():
    """`flag`: a published comment goes back into the queue (reason `reader_flag`).
    `correction`: the CMS overrules a decision (`decision`: publish|reject, optional labels); it becomes a label."""
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object", field="body")
    comment_id = data.get("comment_id")
    if isinstance(comment_id, int) and not isinstance(comment_id, bool):
        comment_id = str(comment_id)
    if not isinstance(comment_id, str) or not comment_id.strip():
        raise ApiError(422, "comment_id is required (string)", field="comment_id")
    kind = data.get("type")
    if kind not in FEEDBACK_TYPES:
        raise ApiError(422, f"type must be one of {', '.join(FEEDBACK_TYPES)}", field="type")
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise ApiError(422, f"note must be a string of at most {MAX_NOTE} characters", field="note")
    labels = {label: _optional_bool(data, label) for label in registry.LABELS}

    session = db_session()
    comment = session.scalar(select(Comment).where(Comment.site == g.site, Comment.comment_id == comment_id))
    if comment is None:
        raise ApiError(404, "no comment with this id for this site", field="comment_id")
    who = f"cms:{g.site}"
    if kind == "flag":
        if comment.status == "rejected":
            raise ApiError(409, "the comment is already rejected", field="comment_id", code="conflict")
        if comment.status != "held":
            comment.status = "held"
            if registry.READER_FLAG not in (comment.reasons or []):
                comment.reasons = list(comment.reasons or []) + [registry.READER_FLAG]
        audit(session, username=who, action=registry.READER_FLAG, comment=comment, note=note)
    else:
        decision = data.get("decision")
        if decision not in ("publish", "reject"):
            raise ApiError(422, "decision must be publish or reject", field="decision")
        record_correction(session, comment, "approve" if decision == "publish" else "reject", who=who,
                          note=note, **labels)
    session.commit()
    return jsonify({"comment_id": comment.comment_id, "status": comment.status, "reasons": comment.reasons})


def export_response(site: str | None):
    fmt = request.args.get("format", "jsonl")
    if fmt not in export.FORMATS:
        raise ApiError(422, f"format must be one of {', '.join(export.FORMATS)}", field="format")
    try:
        since = parse_date(request.args.get("since"), "since")
    except BadFilter as exc:
        raise ApiError(422, str(exc), field="since") from None

    def chunks():
        try:
            yield from export.serialise(export.rows(db_session(), since=since, site=site), fmt)
        finally:
            db_session().close()   # end the read transaction now, not whenever the server closes the response
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    name = f"labelled-{site or 'all'}.{fmt}"
    return Response(stream_with_context(chunks()), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/export")
@require_api_key
def export_site():
    """The labelled export of the key's own site (`?since=YYYY-MM-DD&format=csv|jsonl`)."""
    return export_response(g.site)
