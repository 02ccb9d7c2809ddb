"""GET /openapi.json (generated from the same schemas that validate requests) and GET /docs (readable page)."""
from flask import Blueprint, current_app, jsonify, render_template_string

from models import reasons as registry

from .schema import ARTICLE_FIELDS, MODERATE, batch_schema, json_schema

bp = Blueprint("openapi", __name__)

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "code", "message"],
    "properties": {"status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"},
                   "field": {"type": ["string", "null"], "description": "the offending field, dotted path"}}}}}
RESULT = {
    "type": "object", "required": ["comment_id", "decision", "reasons", "scores", "spans", "model_version"],
    "properties": {
        "comment_id": {"type": "string"},
        "decision": {"type": "string", "enum": ["publish", "hold"]},
        "scores": {"type": "object", "additionalProperties": {"type": "number"},
                   "description": "abusive, off_topic, spam (0..1) and the abuse sub-scores; empty on model_error"},
        "spans": {"type": "array", "items": {"type": "object", "properties": {
            "begin": {"type": "integer"}, "end": {"type": "integer"}, "score": {"type": "number"}}},
            "description": "character offsets into the comment text of the words driving the abuse score"},
        "model_version": {"type": "string"},
        "review_id": {"type": "integer", "description": "present when held: the review queue entry"},
        "shadow": {"type": "object", "description": "present when the site (or section) is in shadow mode: the "
                   "answer is publish, and this is what the policy would have decided",
                   "properties": {"decision": {"type": "string", "enum": ["publish", "hold"]},
                                  "reasons": {"type": "array", "items": {"type": "string"}}}},
    },
}
COMMENT_STATE = {"allOf": [{"$ref": "#/components/schemas/ModerateResult"}, {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["published", "held", "approved", "rejected", "analyzed"]},
    "article_id": {"type": ["string", "null"]}, "received_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}}}]}
ARTICLE_OUT = {"type": "object", "properties": {
    "id": {"type": "string"}, "title": {"type": ["string", "null"]}, "body": {"type": ["string", "null"]},
    "section": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]},
    "updated_at": {"type": "string", "format": "date-time"}}}


def _json(ref):
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _errors(*codes):
    text = {400: "invalid input (the error names the field)", 401: "missing or invalid API key",
            403: "site does not match the key", 404: "not found", 413: "body too large",
            415: "Content-Type is not application/json", 429: "rate limited (see Retry-After)",
            503: "the database is unavailable (see Retry-After)"}
    return {str(c): {"description": text[c], "content": _json("Error")} for c in codes}


def add_paths(app, paths: dict, schemas: dict | None = None):
    """For other blueprints (feedback, export, ...): document their endpoints in /openapi.json too."""
    extra = app.extensions.setdefault("openapi", {"paths": {}, "schemas": {}})
    extra["paths"].update(paths)
    extra["schemas"].update(schemas or {})


def document() -> dict:
    doc = _core_document()
    extra = current_app.extensions.get("openapi") or {}
    doc["paths"].update(extra.get("paths", {}))
    doc["components"]["schemas"].update(extra.get("schemas", {}))
    return doc


def _result() -> dict:
    reasons = {"type": "array", "items": {"type": "string", "enum": registry.names()},
               "description": "; ".join(f"{r.name}: {r.description}" for r in registry.all_reasons())}
    return {**RESULT, "properties": {**RESULT["properties"], "reasons": reasons}}


def _core_document() -> dict:
    max_items = int(current_app.config["BATCH_MAX_ITEMS"])
    write = (400, 401, 403, 413, 415, 429, 503)
    path_id = lambda name: {"name": name, "in": "path", "required": True,  # noqa: E731
                            "description": "1 to 255 characters; longer ids get 400",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comment moderation API", "version": "1",
                 "description": "Publish or hold? Scores a reader comment for abuse and for being off-topic "
                                "against its article, applies the site's policy, stores the decision."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {"ModerateRequest": json_schema(MODERATE),
                        "BatchRequest": json_schema(batch_schema(max_items)),
                        "ArticleRequest": json_schema(ARTICLE_FIELDS), "Article": ARTICLE_OUT,
                        "ModerateResult": _result(), "CommentState": COMMENT_STATE, "Error": ERROR,
                        "BatchResult": {"type": "object", "properties": {"results": {"type": "array", "items": {
                            "oneOf": [{"$ref": "#/components/schemas/ModerateResult"},
                                      {"$ref": "#/components/schemas/Error"}]}}}}},
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            "/v1/moderate": {"post": {
                "summary": "Moderate one comment (idempotent on the comment id)",
                "requestBody": {"required": True, "content": _json("ModerateRequest")},
                "responses": {"200": {"description": "the decision", "content": _json("ModerateResult")},
                              **_errors(*write)}}},
            "/v1/moderate/batch": {"post": {
                "summary": f"Moderate up to {max_items} comments; a bad item gets its own error",
                "requestBody": {"required": True, "content": _json("BatchRequest")},
                "responses": {"200": {"description": "one result or error per item, in order",
                                      "content": _json("BatchResult")}, **_errors(*write)}}},
            "/v1/articles/{article_id}": {
                "put": {"summary": "Register or replace an article (comments may then send its id alone)",
                        "parameters": [path_id("article_id")],
                        "requestBody": {"required": True, "content": _json("ArticleRequest")},
                        "responses": {"200": {"description": "updated", "content": _json("Article")},
                                      "201": {"description": "created", "content": _json("Article")},
                                      **_errors(*write)}},
                "get": {"summary": "A registered article", "parameters": [path_id("article_id")],
                        "responses": {"200": {"description": "the article", "content": _json("Article")},
                                      **_errors(400, 401, 404, 429, 503)}}},
            "/v1/comments/{comment_id}": {"get": {
                "summary": "A comment's current state (published, held, approved, rejected)",
                "parameters": [path_id("comment_id")],
                "responses": {"200": {"description": "the state", "content": _json("CommentState")},
                              **_errors(400, 401, 404, 429, 503)}}},
            "/healthz": {"get": {"summary": "Process is up", "security": [],
                                 "responses": {"200": {"description": "up"}}}},
            "/readyz": {"get": {"summary": "Bundle loaded and database reachable", "security": [],
                                "responses": {"200": {"description": "ready"},
                                              "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "text exposition format"}}}},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ doc.info.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:.6rem;overflow:auto}code{background:#f4f4f4}h3{margin-top:2rem}</style>
</head><body>
<h1>{{ doc.info.title }}</h1><p>{{ doc.info.description }}</p>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key: &lt;key&gt;</code>
(keys: <code>moderation keys create SITE NAME</code>). Errors are JSON:
<code>{"error": {"status", "code", "message", "field"}}</code>. Machine-readable:
<a href="{{ url_for('openapi.openapi_json') }}">/openapi.json</a>.</p>
{% for path, ops in doc.paths.items() %}{% for method, op in ops.items() %}
<h3><code>{{ method|upper }} {{ path }}</code></h3><p>{{ op.summary }}</p>
{% if op.requestBody %}<p>Request body:</p>
<pre>{{ schemas[op.requestBody.content['application/json'].schema['$ref'].split('/')[-1]]|tojson(indent=2) }}</pre>
{% endif %}<p>Responses: {% for code, r in op.responses.items() %}<code>{{ code }}</code> {{ r.description }}{% if not loop.last %}; {% endif %}{% endfor %}</p>
{% endfor %}{% endfor %}
<h3>Result</h3><pre>{{ schemas.ModerateResult|tojson(indent=2) }}</pre>
</body></html>"""


@bp.get("/docs")
def docs():
    doc = document()
    return render_template_string(DOCS, doc=doc, schemas=doc["components"]["schemas"])
