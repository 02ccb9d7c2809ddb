"""Request schemas as data: the same definitions validate requests and generate the OpenAPI document."""
import datetime as dt
from dataclasses import dataclass, field as dc_field
from urllib.parse import urlparse

from .errors import ApiError


@dataclass
class Field:
    kind: str                      # string | id | text | datetime | url | object | array
    required: bool = False
    description: str = ""
    max_length: int | None = 255   # characters (string, id, url); items (array)
    fields: dict | None = None     # object: its Fields; array: the item object's Fields
    example: object = None
    extra: dict = dc_field(default_factory=dict)


def _check_string(value, name):
    if not isinstance(value, str):
        raise ApiError(400, "must be a string", field=name, code="wrong_type")
    if "\x00" in value:
        raise ApiError(400, "must not contain NUL characters", field=name, code="invalid_value")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape)", field=name,
                       code="invalid_value") from None
    return value


def check(spec: Field, value, name: str):
    if spec.kind == "object":
        return validate(value, spec.fields, name)
    if spec.kind == "array":
        if not isinstance(value, list):
            raise ApiError(400, "must be an array", field=name, code="wrong_type")
        if not value:
            raise ApiError(400, "must not be empty", field=name, code="invalid_value")
        if spec.max_length and len(value) > spec.max_length:
            raise ApiError(400, f"at most {spec.max_length} items", field=name, code="too_many")
        return value  # items are validated one by one by the caller (each item may fail on its own)
    if spec.kind == "id":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ApiError(400, "must be a string or an integer", field=name, code="wrong_type")
        value = _check_string(str(value), name)
        if not value.strip():
            raise ApiError(400, "must not be empty", field=name, code="empty")
    else:
        value = _check_string(value, name)
    if spec.max_length and len(value) > spec.max_length:
        raise ApiError(400, f"longer than {spec.max_length} characters", field=name, code="too_long")
    if spec.kind == "text" and not value.strip():
        raise ApiError(400, "must not be empty or whitespace only", field=name, code="empty")
    if spec.kind == "datetime":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, "not an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)", field=name,
                           code="invalid_value") from None
    if spec.kind == "url":
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ApiError(400, "must be an absolute http(s) URL", field=name, code="invalid_value")
    return value


def validate(data, fields: dict, prefix: str = "") -> dict:
    """Check `data` against `fields`; raise ApiError naming the first bad field (dotted path)."""
    where = prefix or "body"
    if not isinstance(data, dict):
        raise ApiError(400, "must be a JSON object", field=where, code="wrong_type")
    for name in data:
        if name not in fields:
            raise ApiError(400, f"unknown field (allowed: {', '.join(fields)})", field=_join(prefix, name),
                           code="unknown_field")
    out = {}
    for name, spec in fields.items():
        value = data.get(name)
        if value is None:
            if spec.required:
                raise ApiError(400, "required field is missing", field=_join(prefix, name), code="missing_field")
            continue
        out[name] = check(spec, value, _join(prefix, name))
    return out


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def json_schema(fields: dict) -> dict:
    """OpenAPI 3 schema object for `fields`."""
    props, required = {}, []
    for name, spec in fields.items():
        props[name] = _field_schema(spec)
        if spec.required:
            required.append(name)
    schema = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = required
    return schema


def _field_schema(spec: Field) -> dict:
    if spec.kind == "object":
        schema = json_schema(spec.fields)
    elif spec.kind == "array":
        schema = {"type": "array", "minItems": 1, "items": json_schema(spec.fields)}
        if spec.max_length:
            schema["maxItems"] = spec.max_length
    elif spec.kind == "id":
        schema = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}
    else:
        schema = {"type": "string"}
        if spec.kind == "text":
            schema["minLength"] = 1
        if spec.kind == "datetime":
            schema["format"] = "date-time"
        if spec.kind == "url":
            schema["format"] = "uri"
    if spec.max_length and spec.kind not in ("object", "array", "id"):
        schema["maxLength"] = spec.max_length
    if spec.description:
        schema["description"] = spec.description
    if spec.example is not None:
        schema["example"] = spec.example
    schema.update(spec.extra)
    return schema


COMMENT = {
    "id": Field("id", True, "the CMS's comment id; (site, id) is unique: resending returns the stored decision",
                example="c-1001"),
    "text": Field("text", True, "the comment as the reader wrote it", max_length=None,
                  example="Thanks, this explains the new bus timetable well."),
    "author_id": Field("id", description="the CMS's author id"),
    "author_name": Field("string", description="the author's display name, shown to moderators"),
    "parent_id": Field("id", description="the comment this one replies to"),
    "created_at": Field("datetime", description="when the reader posted it (ISO 8601)"),
}
ARTICLE_FIELDS = {
    "title": Field("string", description="headline", max_length=2000),
    "body": Field("string", description="article text (the first part is enough)", max_length=None),
    "section": Field("string", description="site section; selects per-section thresholds", example="politics"),
    "url": Field("url", max_length=2000),
}
ARTICLE = {"id": Field("id", True, "the CMS's article id; title/body may be omitted when it was registered "
                                   "with PUT /v1/articles/{id}", example="a-17"), **ARTICLE_FIELDS}
MODERATE = {
    "comment": Field("object", True, fields=COMMENT),
    "article": Field("object", True, fields=ARTICLE),
    "site": Field("string", description="must equal the API key's site when given"),
    "callback_url": Field("url", description="where a moderator's later decision is posted", max_length=2000),
}


def batch_schema(max_items: int) -> dict:
    return {"items": Field("array", True, f"1 to {max_items} moderate requests", max_length=max_items,
                           fields=MODERATE),
            "site": MODERATE["site"]}
