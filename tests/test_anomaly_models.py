"""Model files: cards, tampering, and where a model may be loaded from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from secaware.anomaly.behaviour import BehaviourDetector
from secaware.anomaly.models import MODEL_FILES, ModelError, load_model, save_model, verify


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    directory = tmp_path / "models"
    directory.mkdir(mode=0o755)
    X = np.random.default_rng(0).normal(size=(300, 4))
    save_model(BehaviourDetector().fit(X), directory, "behaviour", {"model": "behaviour", "threshold": 3.0})
    return directory


def test_a_saved_model_loads_with_its_card(models: Path) -> None:
    detector, card, notes = load_model(models, "behaviour")
    assert isinstance(detector, BehaviourDetector) and detector.n_features_in_ == 4
    assert card["threshold"] == 3.0 and card["file"]["name"] == "behaviour.joblib"
    assert len(card["file"]["sha256"]) == 64 and card["file"]["bytes"] == (models / "behaviour.joblib").stat().st_size
    assert notes == []
    assert verify(models)["behaviour"]["status"] == "ok" and verify(models)["request"]["status"] == "missing"


def test_no_model_is_none(tmp_path: Path) -> None:
    assert load_model(tmp_path, "request") is None


def test_a_tampered_model_file_is_refused_and_never_unpickled(models: Path) -> None:
    path = models / MODEL_FILES["behaviour"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"behaviour\.joblib does not match its model card: sha256 .* the file was "
                                         r"changed after training and was not loaded"):
        load_model(models, "behaviour")
    assert verify(models)["behaviour"]["status"] == "does not match its card (sha256)"


def test_a_replaced_model_is_refused_even_if_it_is_a_valid_pickle(models: Path) -> None:
    X = np.random.default_rng(1).normal(size=(300, 4))
    save_model(BehaviourDetector().fit(X), models / "other", "behaviour", {})
    (models / "behaviour.joblib").write_bytes((models / "other" / "behaviour.joblib").read_bytes())
    with pytest.raises(ModelError, match="does not match its model card"):
        load_model(models, "behaviour")


def test_a_model_without_its_card_is_refused(models: Path) -> None:
    (models / "behaviour.card.json").unlink()
    with pytest.raises(ModelError, match=r"has no model card \(behaviour\.card\.json\)"):
        load_model(models, "behaviour")


def test_a_card_naming_a_file_elsewhere_is_refused(models: Path) -> None:
    card = json.loads((models / "behaviour.card.json").read_text())
    card["file"]["name"] = "../elsewhere.joblib"
    (models / "behaviour.card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="names no model file in its own folder"):
        load_model(models, "behaviour")


@pytest.mark.parametrize(("target", "mode", "who"), [
    ("folder", 0o777, "every user"),
    ("folder", 0o775, "its group"),
    ("file", 0o666, "every user"),
    ("file", 0o664, "its group"),
])
def test_a_model_others_can_write_is_refused_unless_allowed(models: Path, target: str, mode: int, who: str) -> None:
    path = models if target == "folder" else models / "behaviour.joblib"
    os.chmod(path, mode)
    with pytest.raises(ModelError, match=rf"refusing to load .* is writable by {who} .*--allow-shared-models"):
        load_model(models, "behaviour")
    assert load_model(models, "behaviour", allow_shared=True) is not None


def test_a_model_in_a_folder_inside_one_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone could rename models/ away and put their own in its place
    X = np.random.default_rng(0).normal(size=(300, 4))
    save_model(BehaviourDetector().fit(X), shared / "models", "behaviour", {})
    with pytest.raises(ModelError, match=r"the parent folder .*shared is writable by every user"):
        load_model(shared / "models", "behaviour")
    os.chmod(shared, 0o1777)  # with the sticky bit (as /tmp) only the owner may rename it
    assert load_model(shared / "models", "behaviour") is not None
