"""Configuration: built-in defaults < TOML file ($MODERATION_CONFIG) < MODERATION_* env vars < dict passed in.

Keys are upper-case (Flask style). The TOML file may use lower-case keys; nested tables keep their shape
(e.g. `[policy]`, `[policy.sites."example.org"]`, `[policy.sites."example.org".sections.sport]`).
Env values are parsed as JSON when they parse (numbers, true/false, objects), else kept as strings.
"""
import json
import os
import tomllib

ENV_PREFIX = "MODERATION_"

DEFAULTS = {
    # SQLAlchemy URL; None means a SQLite file `moderation.sqlite` in the app's instance folder.
    "DATABASE_URL": None,
    "SECRET_KEY": None,           # None: a random per-process key (set it when running several workers).
    "BUNDLE": None,               # model bundle folder; None: the shipped default under models/bundles/.
    "LOAD_BUNDLE_AT_START": True,  # load in create_app, i.e. once per gunicorn worker before its first request.
    "AUTO_MIGRATE": True,         # upgrade the database schema to head in create_app.
    "ENCODER_THREADS": 1,         # `moderation serve`: encoder threads per worker (workers, not threads, scale).
    "MAX_CONTENT_LENGTH": 256 * 1024,  # bytes per request body; larger bodies get 413.
    "REQUEST_READ_TIMEOUT": 10,   # `moderation serve`: seconds to receive a whole request, else 408 (service/worker.py)
    "MAX_TEXT_CHARS": 5000,       # longer comments are held with reason `too_long`.
    "BATCH_MAX_ITEMS": 100,       # items per POST /v1/moderate/batch.
    "RATE_LIMIT": 1200,           # requests per API key per window; 0 disables.
    "RATE_LIMIT_WINDOW": 60,      # seconds.
    "REDIS_URL": None,            # when set, rate-limit counters live in Redis instead of the database.
    "METRICS_DIR": None,          # set by `moderation serve`: workers share their counters through files there
    # Thresholds: {"abusive": .., "off_topic": .., "spam": .., "sections": {section: {...}},
    #              "sites": {site: {..., "sections": {section: {...}}}}}
    # Unset values fall back to the bundle's own thresholds.
    "POLICY": {},
    # Perspective endpoints: {"analyze_is_comment": false, "store_window": 3600, "sites": {site: {...}}}
    # (see service/perspective.py).
    "PERSPECTIVE": {},
    # Seconds between a worker's checks for a changed database policy / default bundle (models/bundles/current.txt).
    "POLICY_CHECK_S": 5,
    "BUNDLE_CHECK_S": 5,
}


# Never parsed as JSON: a secret or a URL is a string even when it looks like a number.
STRING_KEYS = {"DATABASE_URL", "SECRET_KEY", "BUNDLE", "REDIS_URL", "METRICS_DIR"}


def _parse_env(name: str, value: str):
    if name in STRING_KEYS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _upper_top(d: dict) -> dict:
    return {k.upper(): v for k, v in d.items()}


# Set but empty is a mistake (an unset variable in a compose file, say), not a wish for the default.
NOT_EMPTY_KEYS = {"DATABASE_URL", "REDIS_URL", "BUNDLE", "CONFIG"}


def load_config(overrides: dict | None = None, environ=None) -> dict:
    environ = os.environ if environ is None else environ
    for key in NOT_EMPTY_KEYS:
        if environ.get(ENV_PREFIX + key) is not None and not environ[ENV_PREFIX + key].strip():
            raise ValueError(f"{ENV_PREFIX}{key} is set but empty; unset it to use the default")
    config = dict(DEFAULTS)
    path = environ.get(ENV_PREFIX + "CONFIG")
    if path:
        with open(path, "rb") as fh:
            config.update(_upper_top(tomllib.load(fh)))
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "CONFIG":
            key = name[len(ENV_PREFIX):]
            config[key] = _parse_env(key, value)
    config.update(overrides or {})
    return config
