"""Per-site operating points: thresholds and mode (enforce | shadow) per site and section.

The TOML `[policy]` is the starting point; rows in `policy_versions` (written by `moderation calibrate --apply`
and `moderation policy set`, audit-logged) override it per site and section. The table is append-only: the
newest row per (site, section) is in force, older rows are its history. Each worker re-reads it when its
newest id changes, checked at most every POLICY_CHECK_S seconds, so a change takes effect without a restart.
One request sees one snapshot (kept on `flask.g`), so a batch is decided under one policy.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from models import thresholds_for
from models.bundle import HEADS

from .db import Base, db_session, utcnow

log = logging.getLogger(__name__)

MODES = ("enforce", "shadow")
TUNABLE = HEADS   # the reasons whose threshold a site can set: the bundle's score heads


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (Index("ix_policy_versions_site_section", "site", "section", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    section: Mapped[str] = mapped_column(String(255), default="")   # "" = the whole site
    thresholds: Mapped[dict] = mapped_column(JSON, default=dict)
    mode: Mapped[str | None] = mapped_column(String(16))            # None: inherit (TOML, then "enforce")
    model_version: Mapped[str | None] = mapped_column(String(255))  # the bundle the thresholds were fitted to
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)


def merge(toml_policy: dict, rows) -> dict:
    """The TOML policy with each DB row laid over its site (section "") or its site's section."""
    policy = copy.deepcopy(toml_policy or {})
    for row in rows:
        site = policy.setdefault("sites", {}).setdefault(row.site, {})
        target = site.setdefault("sections", {}).setdefault(row.section, {}) if row.section else site
        target.update({k: float(v) for k, v in (row.thresholds or {}).items() if k in TUNABLE})
        if row.mode:
            target["mode"] = row.mode
    return policy


def mode_for(policy: dict, site: str | None, section: str | None) -> str:
    """Most specific wins, as for thresholds. An unknown mode counts as enforce (fail closed: holds stay on)."""
    layers = [policy]
    if section:
        layers.append((policy.get("sections") or {}).get(section) or {})
    site_policy = (policy.get("sites") or {}).get(site) or {}
    layers.append(site_policy)
    if section:
        layers.append((site_policy.get("sections") or {}).get(section) or {})
    mode = "enforce"
    for layer in layers:
        if isinstance(layer, dict) and layer.get("mode") is not None:
            mode = layer["mode"]
    if mode not in MODES:
        log.warning("policy mode %r for site %r section %r is not one of %s: enforcing", mode, site, section, MODES)
        return "enforce"
    return mode


@dataclass(frozen=True)
class Snapshot:
    version: int      # newest policy_versions id seen (0: none)
    policy: dict      # TOML shape, DB rows merged in

    def thresholds(self, base: dict, site, section) -> dict:
        return thresholds_for(self.policy, base, site, section)

    def mode(self, site, section) -> str:
        return mode_for(self.policy, site, section)


def latest_rows(session):
    newest = select(func.max(PolicyVersion.id)).group_by(PolicyVersion.site, PolicyVersion.section)
    return list(session.scalars(select(PolicyVersion).where(PolicyVersion.id.in_(newest))
                                .order_by(PolicyVersion.id)))


def _state(app):
    return app.extensions.setdefault("policy", {"snapshot": None, "checked_at": -1e9, "lock": threading.Lock()})


def snapshot() -> Snapshot:
    """This request's policy (the first call in a request fixes it)."""
    if "policy_snapshot" not in g:
        g.policy_snapshot = _refresh(current_app)
    return g.policy_snapshot


def _refresh(app) -> Snapshot:
    state = _state(app)
    now = time.monotonic()
    current = state["snapshot"]
    if current is not None and now - state["checked_at"] < float(app.config.get("POLICY_CHECK_S", 5)):
        return current
    with state["lock"]:
        if state["snapshot"] is not current:   # another thread refreshed meanwhile
            return state["snapshot"]
        state["checked_at"] = now
        try:
            session = db_session()
            newest = session.scalar(select(func.max(PolicyVersion.id))) or 0
            if current is None or newest != current.version:
                rows = latest_rows(session)
                state["snapshot"] = Snapshot(newest, merge(app.config.get("POLICY") or {}, rows))
                if current is not None:
                    log.info("policy version %s loaded (was %s)", newest, current.version)
        except Exception:  # noqa: BLE001 - keep deciding under the last policy known; the TOML one at worst
            log.exception("policy could not be read from the database; keeping the last one loaded")
            if state["snapshot"] is None:
                state["snapshot"] = Snapshot(-1, copy.deepcopy(app.config.get("POLICY") or {}))
        return state["snapshot"]


def thresholds(bundle, site: str, section) -> dict:
    """The thresholds in force for this site and section: bundle < TOML policy < database policy."""
    return snapshot().thresholds(getattr(bundle, "thresholds", {}) or {}, site, section)


def mode(site: str, section) -> str:
    return snapshot().mode(site, section)


def in_force(session, site: str, section: str = "") -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(PolicyVersion.site == site, PolicyVersion.section == section)
                          .order_by(PolicyVersion.id.desc()).limit(1))


def change(session, *, site: str, section: str = "", thresholds: dict | None = None, mode: str | None = None,
           model_version: str | None = None, who: str, note: str | None = None, **details) -> PolicyVersion:
    """Write a new policy version for (site, section): the one in force with these changes laid over it,
    and an audit entry with before and after. Commits."""
    from .review.tables import AuditEntry
    bad = set(thresholds or {}) - set(TUNABLE)
    if bad:
        raise ValueError(f"no threshold for {sorted(bad)}; thresholds exist for {', '.join(TUNABLE)}")
    for name, value in (thresholds or {}).items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
            raise ValueError(f"threshold {name} must be a number from 0 to 1, got {value!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    before = in_force(session, site, section)
    row = PolicyVersion(site=site, section=section or "",
                        thresholds={**(before.thresholds if before else {}),
                                    **{k: float(v) for k, v in (thresholds or {}).items()}},
                        mode=mode if mode is not None else (before.mode if before else None),
                        model_version=model_version or (before.model_version if before else None),
                        created_by=who, note=note)
    session.add(row)
    session.flush()
    session.add(AuditEntry(
        username=who, action="policy_change", site=site, at=utcnow(), model_version=row.model_version,
        details={"policy_version": row.id, "section": section or "", "note": note,
                 "before": {"thresholds": before.thresholds, "mode": before.mode} if before else None,
                 "after": {"thresholds": row.thresholds, "mode": row.mode}, **details}))
    session.commit()
    return row
