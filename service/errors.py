"""JSON errors for the API: `ApiError` for expected problems, and a JSON body (never an HTML page) for the rest."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Paths whose clients are programs: errors there are JSON. Other paths (moderator pages) keep Flask's pages.
JSON_PREFIXES = ("/v1", "/openapi", "/healthz", "/readyz", "/metrics", "/coral", "/$discovery")


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or _default_code(status)

    def to_dict(self) -> dict:
        return {"error": {"status": self.status, "code": self.code, "message": self.message, "field": self.field}}


RETRY_AFTER_S = 5   # what a 503 tells the client to wait when a dependency (the database) is down


def unavailable(exc: BaseException) -> ApiError | None:
    """A 503 with Retry-After when `exc` means the database cannot be reached (not for a bad query)."""
    from sqlalchemy import exc as sa_exc
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                        sa_exc.DisconnectionError)):
        err = ApiError(503, "the database is unavailable; try again shortly", code="unavailable")
        err.headers = {"Retry-After": str(RETRY_AFTER_S)}
        return err
    return None


def _default_code(status: int) -> str:
    return {
        400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
        409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid",
        429: "rate_limited", 500: "internal_error", 503: "unavailable",
    }.get(status, "error")


def error_response(err: ApiError, headers: dict | None = None):
    response = jsonify(err.to_dict())
    response.status_code = err.status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def init_app(app):
    @app.errorhandler(ApiError)
    def handle_api_error(err):
        return error_response(err, getattr(err, "headers", None))

    @app.errorhandler(HTTPException)
    def handle_http(exc):
        if not _wants_json():
            return exc
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body larger than {app.config.get('MAX_CONTENT_LENGTH')} bytes"
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return error_response(ApiError(exc.code or 500, message), headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        down = unavailable(exc)
        if down is not None:
            log.error("database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
            if _wants_json():
                return error_response(down, down.headers)
            return "The service is unavailable; try again shortly.", 503, {"Retry-After": str(RETRY_AFTER_S)}
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return InternalServerError(original_exception=exc)
        return error_response(ApiError(500, "internal error; the request was logged"))
