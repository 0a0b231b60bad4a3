"""Model files and their cards: written atomically, loaded only when they are what was trained.

A model file is a pickle (joblib, in PyOD's versioned envelope), and unpickling runs code. So:

- every model file has a JSON card beside it (`<name>.card.json`) recording how it was trained
  and the sha256 of the file; loading reads the file once, checks those very bytes against the
  card and refuses a mismatch (a file changed after training is never unpickled);
- a model is not loaded from a folder or file that other users can write (group- or
  world-writable, or owned by another user), nor from a folder inside one that others can
  rename (unless it has the sticky bit, as /tmp does), unless the caller says so explicitly
  (`allow_shared=True`, `--allow-shared-models`).

The card is plain JSON (never executed) and is what `secaware models show` prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import platform
import stat
import uuid
import warnings
from pathlib import Path
from typing import Any

from secaware.errors import SecawareError

MODEL_FILES = {"request": "request.joblib", "behaviour": "behaviour.joblib"}
CARD_SUFFIX = ".card.json"


class ModelError(SecawareError):
    """A model file that must not or cannot be loaded (tampered, unsafe location, unreadable)."""


def card_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}{CARD_SUFFIX}"


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("secaware", "polars", "pyod", "scikit-learn", "numpy", "scipy", "joblib", "deltalake"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            if dist == "secaware":
                from secaware import __version__

                out[dist] = __version__
    return out


def save_model(obj: Any, models_dir: str | Path, name: str, card: dict[str, Any]) -> dict[str, Any]:
    """Write `obj` and its card (with the file's sha256) atomically; returns the card as written."""
    from pyod.utils import persistence

    directory = Path(models_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / MODEL_FILES[name]
    tmp = directory / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        persistence.save(obj, tmp, metadata={"secaware_model": name})
        os.chmod(tmp, 0o644)
        data = tmp.read_bytes()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    card = {**card, "file": {"name": target.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    text = json.dumps(card, ensure_ascii=False, indent=2, default=_json_default) + "\n"
    tmp_card = directory / f".{name}{CARD_SUFFIX}.{uuid.uuid4().hex}.tmp"
    try:
        tmp_card.write_text(text, encoding="utf-8")
        os.chmod(tmp_card, 0o644)
        os.replace(tmp_card, card_path(directory, name))
    finally:
        tmp_card.unlink(missing_ok=True)
    return card


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_card(models_dir: str | Path, name: str) -> dict[str, Any] | None:
    path = card_path(Path(models_dir), name)
    if not path.exists():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the model card: {exc}") from exc
    if not isinstance(card, dict):
        raise ModelError(f"{path}: not a model card (expected a JSON object)")
    return card


def load_model(models_dir: str | Path, name: str, *, allow_shared: bool = False
               ) -> tuple[Any, dict[str, Any], list[str]] | None:
    """The model, its card and any warnings (library version drift); None when there is no model.

    Raises ModelError when the file does not match its card, has no card, or lies where other
    users can write (unless allow_shared).
    """
    directory = Path(models_dir)
    model_file = directory / MODEL_FILES[name]
    card_file = card_path(directory, name)
    if not card_file.exists():
        if model_file.exists():
            raise ModelError(f"{model_file} has no model card ({card_file.name}): its origin cannot be checked, so it "
                             f"was not loaded; retrain with `secaware models train`")
        return None
    if not allow_shared:
        check_location(directory)
    card = read_card(directory, name)
    assert card is not None
    entry = card.get("file") if isinstance(card.get("file"), dict) else {}
    file_name, expected = entry.get("name"), entry.get("sha256")
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name or \
            file_name.startswith("."):
        raise ModelError(f"{card_file}: the card names no model file in its own folder (file.name {file_name!r})")
    if not isinstance(expected, str) or len(expected) != 64:
        raise ModelError(f"{card_file}: the card has no sha256 of the model file")
    path = directory / file_name
    try:
        with open(path, "rb") as handle:
            if not allow_shared:
                problem = _unsafe(os.fstat(handle.fileno()), path, strict=True)
                if problem:
                    raise ModelError(_refusal(path, problem))
            data = handle.read()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelError(f"{path} does not match its model card: sha256 {actual[:16]}... where the card "
                         f"{card_file.name} says {expected[:16]}...; the file was changed after training and was "
                         f"not loaded. Retrain with `secaware models train`, or restore the file the card describes")
    from pyod.utils import persistence

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj = persistence.load(io.BytesIO(data), trusted=True)  # trusted: these bytes are the card's
        except Exception as exc:  # a model saved by an incompatible library version
            raise ModelError(f"{path}: matches its card but cannot be loaded with the libraries installed now "
                             f"({type(exc).__name__}: {exc}); retrain with `secaware models train`") from exc
    notes = [f"{path.name}: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    return obj, card, notes


def _refusal(path: Path, problem: str) -> str:
    return (f"refusing to load {path}: {problem}. A model file is a pickle, which runs code when loaded, so "
            f"whoever can change it can run code as you. Make it private (chmod go-w), or pass "
            f"--allow-shared-models if every user who can write there is trusted")


def _unsafe(st: os.stat_result, path: Path, *, strict: bool) -> str | None:
    """Why others could change what lies at path (None: only its owner, us or root, can)."""
    mode = st.st_mode
    if (mode & stat.S_IWOTH or mode & stat.S_IWGRP) and (strict or not mode & stat.S_ISVTX):
        who = "every user" if mode & stat.S_IWOTH else "its group"
        return f"{path} is writable by {who} (mode {stat.S_IMODE(mode):04o})"
    if hasattr(os, "getuid") and st.st_uid not in (os.getuid(), 0):
        return f"{path} belongs to another user (uid {st.st_uid})"
    return None


def check_location(directory: Path) -> None:
    """The models folder itself must be private; its parents must not let others swap it out."""
    try:
        real = directory.resolve(strict=True)
    except OSError as exc:
        raise ModelError(f"{directory}: cannot read the models folder: {exc.strerror or exc}") from exc
    problem = _unsafe(real.stat(), real, strict=True)
    if problem:
        raise ModelError(_refusal(directory, problem))
    for parent in real.parents:
        problem = _unsafe(parent.stat(), parent, strict=False)
        if problem:
            raise ModelError(_refusal(directory, f"the parent folder {problem}, so the models folder can be replaced"))


def verify(models_dir: str | Path, *, allow_shared: bool = False) -> dict[str, dict[str, Any]]:
    """Check each model's card and file without unpickling: what `secaware models show` reports."""
    out: dict[str, dict[str, Any]] = {}
    directory = Path(models_dir)
    for name, file_name in MODEL_FILES.items():
        card = read_card(directory, name)
        if card is None:
            out[name] = {"status": "missing" if not (directory / file_name).exists() else "no card"}
            continue
        entry = card.get("file") or {}
        path = directory / str(entry.get("name") or file_name)
        status = "ok"
        try:
            if not allow_shared:
                check_location(directory)
                problem = _unsafe(path.stat(), path, strict=True)
                if problem:
                    raise ModelError(_refusal(path, problem))
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry.get("sha256"):
                status = "does not match its card (sha256)"
        except (ModelError, OSError) as exc:
            status = str(exc)
        out[name] = {"status": status, "card": card}
    return out
