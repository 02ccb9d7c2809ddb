"""Empty databases already at the head revision, for tests that are not about migrating.

Migrating a fresh SQLite file per test cost a large share of the fast tier, so one file is migrated per session
and copied; create_app's own upgrade then finds it at head. (PostgreSQL's counterpart, a schema migrated once and
emptied before each test, is conftest's `postgres_clean_url`.)
"""
import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

_template: Path | None = None


def _sqlite_template() -> Path:
    global _template
    if _template is None:
        from service.db import make_engine, upgrade
        folder = Path(tempfile.mkdtemp(prefix="migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "head.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        conn = sqlite3.connect(path)   # fold the WAL into the file, so that copying the file is enough
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _template = path
    return _template


def sqlite_url(path) -> str:
    """A SQLite URL for `path`, which is first made a copy of the migrated empty database unless it exists."""
    path = Path(path)
    if not path.exists():
        shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"
