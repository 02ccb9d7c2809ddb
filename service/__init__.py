"""The Flask application the CMS and the moderators talk to."""
import logging
import secrets

from flask import Flask

from . import db, errors, health, moderation, review
from .api import bp as api_bp
from .config import load_config
from .coral import bp as coral_bp
from .openapi import bp as openapi_bp
from .perspective import bp as perspective_bp


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, storage (migrated to head), model bundle (loaded now), blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(config))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        if not app.config.get("TESTING"):
            logging.getLogger(__name__).warning("SECRET_KEY not set: using a random key (sessions end on restart)")

    errors.init_app(app)
    db.init_app(app)
    moderation.init_app(app)
    health.init_app(app)

    review.init_app(app)  # /review pages, /v1/feedback, /v1/export, webhook outbox

    app.register_blueprint(api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi_bp)

    app.register_blueprint(perspective_bp)  # Perspective API drop-in: /v1alpha1/comments:analyze|suggestscore
    app.register_blueprint(coral_bp)        # Coral Talk external moderation phase: /coral/moderate
    return app


def create_admin_app() -> Flask:
    """For one-shot admin commands (keys, users, export, webhooks): no model bundle, no sessions."""
    return create_app({"LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "unused-by-cli-commands"})
