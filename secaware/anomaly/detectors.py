"""The PyOD detectors of the behaviour ensemble, made inductive and fast to score, and score calibration.

Two changes to PyOD's own classes, both in scoring only (fitting is PyOD's):

- `InductiveECOD`: PyOD's ECOD scores new rows by recomputing the empirical distributions over the
  training rows *plus the rows being scored*, so a window's score depends on what else is in the
  batch, and a nightly run would score the same window differently from a rerun. Here the tails
  are read from the training distribution only (the ECOD paper's definition applied to new data).
- `FastHBOS`: PyOD's HBOS scores through a numba function compiled on first use in every process
  (about 4 s, in fit and again in the first scoring of a loaded model); the same histograms and
  the same arithmetic in numpy keep compilation out of both.

Scores of different detectors are made comparable by `TailCalibrator`: each becomes -log10 of the
share of baseline windows that scored at least as high, with an exponential tail fitted on the
baseline's upper quantiles beyond its largest score, so nothing saturates.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from pyod.models.ecod import ECOD
from pyod.models.hbos import HBOS
from scipy.stats import skew
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["FastHBOS", "InductiveECOD", "TailCalibrator", "tail_surprise"]


class InductiveECOD(ECOD):
    """ECOD whose scores of new rows use the training distribution only (see the module docstring).

    Each feature's left and right tail probability is `tail_surprise` of the training values:
    interpolated between neighbouring values, and beyond the training range falling exponentially
    (scale from the feature's own body, at most `max_excess` more nats) where plain ECDF tails stop
    at 1 / (n + 1): 254 destinations and 3 destinations are both beyond a baseline whose most was 2,
    but not equally so. in_sample scores rows that are part of the training data leaving each out
    of its own comparison (so does fit, for the training scores).
    """

    def __init__(self, contamination: float = 0.1, n_jobs: int = 1, max_excess: float = 30.0) -> None:
        super().__init__(contamination=contamination, n_jobs=n_jobs)
        self.max_excess = max_excess

    def fit(self, X, y=None):
        X = check_array(X, dtype=np.float64)
        self.sorted_ = np.sort(X, axis=0)
        self.scale_ = np.array([_tail_scale(self.sorted_[:, j], floor=1e-3) for j in range(X.shape[1])])
        with warnings.catch_warnings():  # constant features (a flag never set) have no skew: sign 0
            warnings.simplefilter("ignore", RuntimeWarning)
            self.skew_sign_ = np.nan_to_num(np.sign(skew(X, axis=0)))
        super().fit(X, y)  # PyOD's fit keeps X_train and sets the threshold; the scores are redone below
        if hasattr(self, "X_train"):
            del self.X_train  # the sorted copy is all scoring needs; keeps the model file half the size
        self.decision_scores_ = self.decision_function(X, in_sample=True)
        self._process_decision_scores()
        return self

    def decision_function(self, X, in_sample: bool = False):
        check_is_fitted(self, ["sorted_", "skew_sign_"])
        X = check_array(X, dtype=np.float64)
        cap = self.max_excess / math.log(10)
        out = np.zeros(X.shape[0])
        for j in range(X.shape[1]):
            col, x, beta = self.sorted_[:, j], X[:, j], float(self.scale_[j])
            u_l = tail_surprise(col, x, beta=beta, upper=False, in_sample=in_sample, max_excess=cap) * math.log(10)
            u_r = tail_surprise(col, x, beta=beta, upper=True, in_sample=in_sample, max_excess=cap) * math.log(10)
            s = self.skew_sign_[j]
            u_skew = u_l * -1 * np.sign(s - 1) + u_r * np.sign(s + 1)
            out += np.maximum(np.maximum(u_l, u_r), u_skew)
        return out


class FastHBOS(HBOS):
    """HBOS with PyOD's fixed-bin histograms and scoring done in numpy (no numba compilation)."""

    def fit(self, X, y=None):
        if isinstance(self.n_bins, str):
            return super().fit(X, y)
        X = check_array(X, dtype=np.float64)
        self._set_n_classes(y)
        self.hist_ = np.zeros([self.n_bins, X.shape[1]])
        self.bin_edges_ = np.zeros([self.n_bins + 1, X.shape[1]])
        for i in range(X.shape[1]):
            self.hist_[:, i], self.bin_edges_[:, i] = np.histogram(X[:, i], bins=self.n_bins, density=True)
        self.decision_scores_ = self.decision_function(X)
        self._process_decision_scores()
        return self

    def decision_function(self, X):
        check_is_fitted(self, ["hist_", "bin_edges_"])
        X = check_array(X, dtype=np.float64)
        if isinstance(self.n_bins, str):
            return super().decision_function(X)
        hist = np.asarray(self.hist_)
        edges = np.asarray(self.bin_edges_)
        total = np.zeros(X.shape[0])
        for i in range(X.shape[1]):
            logs = np.log2(hist[:, i] + self.alpha)
            inds = np.digitize(X[:, i], edges[:, i], right=True)
            score = np.empty(X.shape[0])
            inside = (inds > 0) & (inds <= self.n_bins)
            score[inside] = logs[inds[inside] - 1]
            low = inds == 0
            near_low = (edges[0, i] - X[:, i]) <= (edges[1, i] - edges[0, i]) * self.tol
            score[low] = np.where(near_low[low], logs[0], logs.min())
            high = inds == self.n_bins + 1
            near_high = (X[:, i] - edges[-1, i]) <= (edges[-1, i] - edges[-2, i]) * self.tol
            score[high] = np.where(near_high[high], logs[-1], logs.min())
            total += score
        return -total  # PyOD: invert_order(sum): higher is more anomalous


def tail_surprise(sorted_values: np.ndarray, x: np.ndarray, *, beta: float, upper: bool = True,
                  in_sample: bool = False, max_excess: float | None = None) -> np.ndarray:
    """-log10 of the share of `sorted_values` at least as extreme as each x (upper or lower side).

    (count + 1) / (n + 1), the count interpolated between neighbouring baseline values (so values
    between the same two baseline values are not tied); a value beyond every baseline value gets
    1 / (n + 1) and then an exponential decay with scale `beta` for how far beyond it lies.
    in_sample: x are themselves among the values (leave-one-out: a point is not compared with itself).
    max_excess caps the decay beyond the range (in the same log10 units).
    """
    s = sorted_values
    n = s.shape[0]
    if n == 0:
        return np.zeros(x.shape[0])
    self_count = 1 if in_sample else 0
    if upper:
        k = np.searchsorted(s, x, side="left")  # first baseline value >= x
        count = (n - k - self_count).astype(np.float64)
        inner = (k > 0) & (k < n)
        kk = np.clip(k, 1, n - 1) if n > 1 else np.zeros_like(k)
        gap = s[kk] - s[kk - 1] if n > 1 else np.ones(x.shape[0])
        frac = np.where(inner & (gap > 0), (s[kk] - x) / np.where(gap > 0, gap, 1.0), 0.0)
        others = s[-1 - self_count] if n > self_count else s[-1]
        beyond = np.maximum(x - others, 0.0)
    else:
        k = np.searchsorted(s, x, side="right")  # baseline values <= x
        count = (k - self_count).astype(np.float64)
        inner = (k > 0) & (k < n)
        kk = np.clip(k, 1, n - 1) if n > 1 else np.zeros_like(k)
        gap = s[kk] - s[kk - 1] if n > 1 else np.ones(x.shape[0])
        frac = np.where(inner & (gap > 0), (x - s[kk - 1]) / np.where(gap > 0, gap, 1.0), 0.0)
        others = s[self_count] if n > self_count else s[0]
        beyond = np.maximum(others - x, 0.0)
    count = np.maximum(count, 0.0)
    outside = count == 0
    count = count + np.clip(frac, 0.0, 1.0)
    m = max(n - self_count, 1)
    log_p = np.log10((count + 1) / (m + 1))
    if beta > 0:
        excess = beyond / beta / math.log(10)
        if max_excess is not None:
            excess = np.minimum(excess, max_excess)
        log_p = np.where(outside, log_p - excess, log_p)
    return -log_p


class TailCalibrator(BaseEstimator):
    """Makes any detector's scores comparable: -log10 of the baseline share scoring at least as high."""

    def __init__(self, *, max_values: int = 200_000) -> None:
        self.max_values = max_values

    def fit(self, scores: np.ndarray) -> TailCalibrator:
        s = np.sort(np.asarray(scores, dtype=np.float64))
        if s.shape[0] > self.max_values:  # keep every quantile that matters: the top exactly, the body sampled
            top = s[-self.max_values // 2:]
            body = s[:-self.max_values // 2][:: max(1, (s.shape[0] - top.shape[0]) // (self.max_values // 2))]
            s = np.concatenate([body, top])
        self.sorted_ = s
        self.beta_ = _tail_scale(s)
        return self

    def transform(self, scores: np.ndarray, *, in_sample: bool = False) -> np.ndarray:
        check_is_fitted(self, ["sorted_", "beta_"])
        return tail_surprise(self.sorted_, np.asarray(scores, dtype=np.float64), beta=self.beta_,
                             in_sample=in_sample)


def _tail_scale(s: np.ndarray, floor: float = 1e-9) -> float:
    """Scale of an exponential tail fitted on the upper quantiles of the body (not on the extremes,
    which may be the very anomalies the baseline contains)."""
    n = s.shape[0]
    if n < 5:
        return float(max(np.ptp(s), floor)) if n else 1.0
    lo_q, hi_q = (0.90, 0.99) if n >= 1000 else (0.50, 0.90)
    lo, hi = np.quantile(s, [lo_q, hi_q])
    beta = (hi - lo) / math.log((1 - lo_q) / (1 - hi_q))
    if beta <= 0:  # a flat body: scale by the whole spread instead
        beta = float(np.ptp(s)) / 10
    return float(max(beta, floor))
