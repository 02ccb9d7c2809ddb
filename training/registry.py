"""Which bundle under models/bundles/ the service loads by default: list, promote, roll back.

`current.txt` names the default (what `models.load_bundle()` and the service load); `history.txt` beside it
is a stack of the earlier defaults, one `VERSION<TAB>replaced-at` line each, newest last: promote pushes the
default it replaces, rollback pops it back. Running service workers notice the change within BUNDLE_CHECK_S
seconds and swap the bundle in without a restart. `promotions.log` (JSON lines) records every promotion and
rollback with the gate's verdict, and every --force override.
"""
from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import models.bundle as mb


def _history_file() -> Path:
    return mb.DEFAULT_POINTER.parent / "history.txt"


def _log_file() -> Path:
    return mb.DEFAULT_POINTER.parent / "promotions.log"


def log_event(event: dict) -> dict:
    """Append one JSON line to promotions.log: when, who, and what happened (append-only by convention)."""
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001
        who = None
    event = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "user": who, **event}
    with open(_log_file(), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event, default=str) + "\n")
    return event


def events() -> list[dict]:
    f = _log_file()
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []


def _write(path: Path, text: str):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a half-written pointer would leave the service without a model


def current() -> str | None:
    """The default bundle's version (folder name), or None when there is no bundle at all."""
    try:
        return mb.default_bundle_path().resolve().relative_to(mb.BUNDLES.resolve()).as_posix()
    except FileNotFoundError:
        return None


def history() -> list[str]:
    f = _history_file()
    if not f.exists():
        return []
    return [line.split("\t")[0] for line in f.read_text().splitlines() if line.strip()]


def bundles() -> list[dict]:
    """Every bundle folder with its metadata, oldest training first, and which one is the default."""
    default = current()
    found = []
    for meta_file in sorted(mb.BUNDLES.glob("*/metadata.json")):
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError) as e:
            meta = {"error": f"unreadable metadata.json: {e}"}
        version = meta_file.parent.name
        found.append({"version": version, "default": version == default, "meta": meta})
    return sorted(found, key=lambda b: (str(b["meta"].get("trained_at", "")), b["version"]))


def key_metrics(meta: dict) -> dict[str, float]:
    """Held-out ROC-AUCs from the metadata (else validation, else cross-validated ones), with short names."""
    metrics = meta.get("metrics") or {}
    group = metrics.get("held_out") or metrics.get("validation") or metrics.get("cross_validated") or {}
    short = {}
    for name, value in group.items():
        if value is None or "roc_auc" not in name:
            continue
        short[name.replace("abusive_roc_auc_", "abuse:").replace("off_topic_roc_auc_", "topic:")
              .replace("spam_roc_auc_", "spam:")] = value
    return short


def _check(version: str) -> Path:
    folder = mb.BUNDLES / version
    if not version or Path(version).is_absolute() or ".." in Path(version).parts or not (folder / "metadata.json").exists():
        known = ", ".join(b["version"] for b in bundles()) or "none"
        raise ValueError(f"no bundle {version!r} under {mb.BUNDLES} (known: {known})")
    try:
        mb.load_bundle(folder)  # a bundle the service cannot load is never made the default
    except Exception as e:
        raise ValueError(f"bundle {version} does not load, so it is not made the default: {e}") from e
    return folder


def _point_at(version: str):
    _write(mb.DEFAULT_POINTER, version + "\n")


def promote(version: str) -> str | None:
    """Make `version` the default; returns the version it replaced (pushed onto the history)."""
    _check(version)
    previous = current()
    if previous == version:
        return previous
    if previous is not None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        f = _history_file()
        _write(f, (f.read_text() if f.exists() else "") + f"{previous}\t{stamp}\n")
    _point_at(version)
    return previous


def rollback() -> str:
    """Make the previous default the default again (popping it off the history); returns its version."""
    f = _history_file()
    lines = [line for line in (f.read_text().splitlines() if f.exists() else []) if line.strip()]
    if not lines:
        raise ValueError(f"nothing to roll back to: {f} lists no earlier default")
    version = lines[-1].split("\t")[0]
    _check(version)
    _point_at(version)
    _write(f, "".join(line + "\n" for line in lines[:-1]))
    return version
