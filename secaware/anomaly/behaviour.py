"""Behaviour level: an ensemble of PyOD detectors per feature set, with scores a person can read.

For each feature set (features.py) one `BehaviourDetector` is trained on the baseline's windows:
IsolationForest (isolates points in few random splits), ECOD (how far out in the tails of each
feature's empirical distribution) and HBOS (how rare each feature's histogram bin is). Each
detector's score is calibrated against its own scores on the baseline (`TailCalibrator`), the three
calibrated scores are averaged, and the average is calibrated once more, so the final score reads
the same everywhere: -log10 of the share of baseline windows at least this unusual. A window is
an anomaly when that share is below `contamination` (score >= -log10(contamination)).

Each flagged window is explained by the features that deviate most from the baseline, with the
observed value, the baseline's typical (median) value and how many baseline windows go as far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from pyod.models.iforest import IForest
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from secaware.anomaly.detectors import FastHBOS, InductiveECOD, TailCalibrator, tail_surprise
from secaware.anomaly.features import FeatureSet

__all__ = ["BehaviourDetector", "FeatureBaseline", "SetModel", "explain_rows", "to_matrix"]


class BehaviourDetector(BaseEstimator):
    """IForest + ECOD + HBOS, calibrated and averaged into one score (higher = more unusual)."""

    def __init__(self, *, contamination: float = 0.001, n_estimators: int = 100, n_bins: int = 20,
                 max_samples: int = 100_000, n_jobs: int = -1, random_state: int | None = 0) -> None:
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.n_bins = n_bins
        self.max_samples = max_samples
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _detectors(self) -> dict[str, Any]:
        return {
            "iforest": IForest(n_estimators=self.n_estimators, contamination=self.contamination,
                               n_jobs=self.n_jobs, random_state=self.random_state),
            "ecod": InductiveECOD(contamination=self.contamination),
            "hbos": FastHBOS(n_bins=self.n_bins, contamination=self.contamination),
        }

    def fit(self, X, y=None):
        if not 0 < self.contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), not {self.contamination!r}")
        X = check_array(X, dtype=np.float64)
        if X.shape[0] < 2:
            raise ValueError("a baseline needs at least 2 windows")
        if X.shape[0] > self.max_samples:
            rng = np.random.default_rng(self.random_state)
            X = X[np.sort(rng.choice(X.shape[0], self.max_samples, replace=False))]
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        self.detectors_ = self._detectors()
        self.calibrators_ = {}
        parts = []
        for name, det in self.detectors_.items():
            det.fit(X)
            raw = det.decision_scores_
            cal = TailCalibrator(max_values=20_000).fit(raw)
            self.calibrators_[name] = cal
            parts.append(cal.transform(raw, in_sample=True))
        combined = np.mean(parts, axis=0)
        self.combined_ = TailCalibrator(max_values=20_000).fit(combined)
        self.threshold_ = -math.log10(self.contamination)
        self.train_scores_ = self.combined_.transform(combined, in_sample=True)
        return self

    def detector_scores(self, X, *, in_sample: bool = False) -> dict[str, np.ndarray]:
        """Each detector's calibrated score (-log10 share of baseline windows scoring as high)."""
        check_is_fitted(self, ["detectors_", "calibrators_"])
        X = check_array(X, dtype=np.float64)
        return {name: self.calibrators_[name].transform(
                    det.decision_function(X, in_sample=in_sample) if isinstance(det, InductiveECOD)
                    else det.decision_function(X), in_sample=in_sample)
                for name, det in self.detectors_.items()}

    def decision_function(self, X, *, in_sample: bool = False) -> np.ndarray:
        """The combined score: -log10 of the share of baseline windows at least as unusual."""
        parts = self.detector_scores(X, in_sample=in_sample)
        return self.combined_.transform(np.mean(list(parts.values()), axis=0), in_sample=in_sample)

    def predict(self, X, *, in_sample: bool = False) -> np.ndarray:
        """1 for an anomaly, 0 otherwise (PyOD's convention)."""
        return (self.decision_function(X, in_sample=in_sample) >= self.threshold_).astype(int)

    def params(self) -> dict[str, Any]:
        """What the model card records of the detectors."""
        check_is_fitted(self, ["detectors_"])
        out: dict[str, Any] = {"combination": "mean of the detectors' calibrated scores (-log10 of the share of "
                                              "baseline windows scoring at least as high), calibrated again",
                               "contamination": self.contamination, "training_windows_used": self.n_samples_fit_}
        for name, det in self.detectors_.items():
            params = {k: v for k, v in det.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
            out[name] = {"class": f"{type(det).__module__}.{type(det).__name__}", **params}
        return out


def to_matrix(frame: pl.DataFrame, fs: FeatureSet) -> np.ndarray:
    """The feature columns as the detectors see them: log1p of counts and byte sums."""
    exprs = [(pl.col(f.name).clip(lower_bound=0).log1p() if f.log else pl.col(f.name)).cast(pl.Float64)
             for f in fs.features]
    return frame.select(exprs).to_numpy().astype(np.float64, copy=False)


class FeatureBaseline(BaseEstimator):
    """Per feature: the baseline's values (sorted, sampled) for 'typical' and 'higher than x% of windows'."""

    def __init__(self, *, max_values: int = 20_000, random_state: int | None = 0) -> None:
        self.max_values = max_values
        self.random_state = random_state

    def fit(self, frame: pl.DataFrame, fs: FeatureSet) -> FeatureBaseline:
        values = frame.select(fs.feature_names).to_numpy().astype(np.float64)
        if values.shape[0] > self.max_values:
            rng = np.random.default_rng(self.random_state)
            values = values[rng.choice(values.shape[0], self.max_values, replace=False)]
        self.features_ = fs.feature_names
        self.sorted_ = np.sort(values, axis=0)
        self.median_ = np.median(values, axis=0) if values.shape[0] else np.zeros(len(fs.features))
        q1, q3 = (np.quantile(values, [0.25, 0.75], axis=0) if values.shape[0]
                  else (np.zeros(len(fs.features)), np.zeros(len(fs.features))))
        spread = (q3 - q1) / 1.349
        self.scale_ = np.where(spread > 0, spread, np.maximum(np.abs(self.median_) / 10, 1e-3))
        self.n_ = values.shape[0]
        return self

    def deviations(self, values: np.ndarray, *, in_sample: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per row and feature: surprise (-log10 share of baseline windows as far out) and direction (+1/-1)."""
        check_is_fitted(self, ["sorted_"])
        surprise = np.zeros(values.shape)
        direction = np.zeros(values.shape)
        for j in range(values.shape[1]):
            col = self.sorted_[:, j]
            x = values[:, j]
            up = tail_surprise(col, x, beta=float(self.scale_[j]), in_sample=in_sample)
            down = tail_surprise(col, x, beta=float(self.scale_[j]), upper=False, in_sample=in_sample)
            above = x > self.median_[j]
            below = x < self.median_[j]
            surprise[:, j] = np.where(above, up, np.where(below, down, 0.0))
            direction[:, j] = np.where(above, 1.0, np.where(below, -1.0, 0.0))
        return surprise, direction


@dataclass
class SetModel:
    """One feature set's trained model: detector, feature baseline and what the baseline knows."""

    feature_set: str
    detector: BehaviourDetector
    baseline: FeatureBaseline
    known: dict[str, pl.DataFrame] = field(default_factory=dict)  # value -> first seen
    windows: int = 0
    period: tuple[str | None, str | None] = (None, None)


def _fmt(value: float, unit: str) -> str:
    if unit == "flag":
        return "yes" if value >= 0.5 else "no"
    if unit == "ratio":
        return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"
    if unit == "bytes":
        for div, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= div:
                return f"{value / div:.1f} {name}"
        return f"{value:,.0f} B"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def explain_rows(frame: pl.DataFrame, model: SetModel, fs: FeatureSet, *, top: int = 3,
                 in_sample: bool = False) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Explanation text and deviations for each row of `frame` (feature columns as computed)."""
    if frame.height == 0:
        return [], []
    values = frame.select(fs.feature_names).to_numpy().astype(np.float64)
    surprise, direction = model.baseline.deviations(values, in_sample=in_sample)
    far = np.abs(values - model.baseline.median_) / model.baseline.scale_
    n = model.baseline.n_
    order = np.lexsort((-far, -np.round(surprise, 6)), axis=-1)[:, :top]  # most surprising, then farthest out
    typical = [_fmt(model.baseline.median_[j], f.unit) for j, f in enumerate(fs.features)]
    texts, devs = [], []
    for i in range(values.shape[0]):
        chosen = [j for j in order[i] if surprise[i, j] >= 1.0] or [order[i, 0]]
        parts, rows = [], []
        for j in chosen:
            f = fs.features[j]
            s = surprise[i, j]
            word = "higher" if direction[i, j] > 0 else "lower"
            share = 10 ** -s
            how = (f"{word} than all {n:,} baseline windows" if share * (n + 1) <= 1.0 + 1e-9
                   else f"{word} than {1 - share:.1%} of baseline windows")
            observed = _fmt(values[i, j], f.unit)
            parts.append(f"{f.label} {observed} (typical {typical[j]}, {how})")
            rows.append({"feature": f.name, "observed": observed, "typical": typical[j], "score": round(float(s), 3)})
        texts.append("; ".join(parts))
        devs.append(rows)
    return texts, devs
