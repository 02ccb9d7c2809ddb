"""Request schemas as data: the same definitions validate requests and generate the OpenAPI document."""
import datetime as dt
import unicodedata
from dataclasses import dataclass, field as dc_field
from urllib.parse import urlsplit

from .errors import ApiError

# Every store must read back what it accepted: Python's datetime ends at years 1 and 9999, and PostgreSQL hands
# a timestamptz back in the session's time zone (up to 14 h away). A written year from 1900 to 9998 keeps every
# instant (offsets are under 24 h) well inside both; JSON Schema can say it too (DATETIME_PATTERN).
MIN_YEAR, MAX_YEAR = 1900, 9998
DATETIME_PATTERN = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def parse_datetime(value: str, name: str) -> dt.datetime:
    """ISO 8601 -> an aware datetime in UTC (no offset means UTC); 400 for a year outside MIN_YEAR..MAX_YEAR."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "not an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)", field=name,
                       code="invalid_value") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ApiError(400, f"out of range: the year must be from {MIN_YEAR} to {MAX_YEAR}", field=name,
                       code="invalid_value")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


ID_MIN, ID_MAX = -(2 ** 63), 2 ** 63 - 1   # integer ids: what a CMS's 64-bit key can be


@dataclass
class Field:
    kind: str                      # string | id | text | datetime | url | object | array | integer
    required: bool = False
    description: str = ""
    max_length: int | None = 255   # characters (string, id, url); items (array)
    fields: dict | None = None     # object: its Fields; array: the item object's Fields
    example: object = None
    extra: dict = dc_field(default_factory=dict)
    nullable: bool = False         # null means "not given"; otherwise an explicit null is a 400


def is_blank(text: str) -> bool:
    """Whitespace and invisible characters only (models.normalize, imported on first use: importing `models`
    loads the ML stack, which admin commands do not need)."""
    from models.normalize import is_blank as blank
    return blank(text)


# every string refuses NUL; text and ids also need a visible character
NO_NUL = r"^[^\u0000]*$"
NON_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


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
    if spec.kind == "integer":
        low, high = spec.extra.get("minimum"), spec.extra.get("maximum")
        if isinstance(value, float) and value.is_integer():
            value = int(value)   # JSON has one number type: 150.0 is the integer 150
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, "must be an integer", field=name, code="wrong_type")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ApiError(400, f"must be from {low} to {high}", field=name, code="invalid_value")
        return value
    if spec.kind == "id":
        if isinstance(value, float) and value.is_integer():
            value = int(value)   # 5.0 is an integer in JSON Schema's sense
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ApiError(400, "must be a string or an integer", field=name, code="wrong_type")
        if isinstance(value, int) and not ID_MIN <= value <= ID_MAX:
            raise ApiError(400, f"an integer id must be from {ID_MIN} to {ID_MAX}", field=name, code="too_long")
        value = _check_string(str(value), name)
        if not value.strip():
            raise ApiError(400, "must not be empty", field=name, code="empty")
    else:
        value = _check_string(value, name)
    if spec.max_length and len(value) > spec.max_length:
        raise ApiError(400, f"longer than {spec.max_length} characters", field=name, code="too_long")
    if spec.kind == "text" and is_blank(value):
        raise ApiError(400, "must not be empty, whitespace or invisible characters only", field=name, code="empty")
    if spec.kind == "datetime":
        parse_datetime(value, name)
    if spec.kind == "url":
        problem = url_problem(value)
        if problem:
            raise ApiError(400, problem, field=name, code="invalid_value")
    return value


def url_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL without credentials, or None when it is one."""
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        return "must not contain spaces or control characters"
    try:
        parsed = urlsplit(value)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        host = parsed.hostname
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parsed.scheme not in ("http", "https") or not host:
        return "must be an absolute http(s) URL"
    if parsed.username is not None or parsed.password is not None or "@" in parsed.netloc:
        return "must not contain a user name or password"
    return None


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
            if name in data and not spec.nullable:
                raise ApiError(400, "must not be null (leave the field out instead)", field=_join(prefix, name),
                               code="wrong_type")
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
    elif spec.kind == "integer":
        schema = {"type": "integer"}
    elif spec.kind == "id":
        schema = {"oneOf": [{"type": "string", "minLength": 1, "pattern": NON_BLANK},
                            {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}]}
    else:
        schema = {"type": "string", "pattern": NO_NUL}
        if spec.kind == "text":
            schema["minLength"] = 1
            schema["pattern"] = NON_BLANK   # not whitespace only (nor invisible characters only)
        if spec.kind == "datetime":
            schema["format"] = "date-time"
            schema["pattern"] = DATETIME_PATTERN
        if spec.kind == "url":
            schema["format"] = "uri"
    if spec.max_length and spec.kind not in ("object", "array", "id", "integer"):
        schema["maxLength"] = spec.max_length
    if spec.nullable:
        schema = {"oneOf": [*schema.pop("oneOf"), {"type": "null"}], **schema} if "oneOf" in schema else \
            {**schema, "type": [schema["type"], "null"]}
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
    "author_id": Field("id", description="the CMS's author id", nullable=True),
    "author_name": Field("string", description="the author's display name, shown to moderators", nullable=True),
    "parent_id": Field("id", description="the comment this one replies to", nullable=True),
    "created_at": Field("datetime", description="when the reader posted it (ISO 8601, years 1900 to 9998)",
                        nullable=True),
}
ARTICLE_FIELDS = {
    "title": Field("string", description="headline", max_length=2000, nullable=True),
    "body": Field("string", description="article text (the first part is enough)", max_length=None, nullable=True),
    "section": Field("string", description="site section; selects per-section thresholds", example="politics",
                     nullable=True),
    "url": Field("url", description="http(s), no user name or password; leave it out when unknown",
                 max_length=2000),
}
ARTICLE = {"id": Field("id", True, "the CMS's article id; title/body may be omitted when it was registered "
                                   "with PUT /v1/articles/{id}", example="a-17"), **ARTICLE_FIELDS}
MODERATE = {
    "comment": Field("object", True, fields=COMMENT),
    "article": Field("object", True, fields=ARTICLE),
    "site": Field("string", description="must equal the API key's site when given"),
    "callback_url": Field("url", description="where a moderator's later decision is posted: http(s), no user "
                                             "name or password; it must resolve to a public address unless the "
                                             "site's WEBHOOK_ALLOW_HOSTS names its host", max_length=2000,
                          nullable=True),
    "deadline_ms": Field("integer", description="time budget in ms (or the X-Deadline-Ms header); past it the "
                         "answer comes from the fast path with degraded: true", max_length=None,
                         extra={"minimum": 1, "maximum": 60_000}),
}


def batch_schema(max_items: int) -> dict:
    return {"items": Field("array", True, f"1 to {max_items} moderate requests", max_length=max_items,
                           fields=MODERATE),
            "site": MODERATE["site"]}
