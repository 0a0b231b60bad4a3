"""Request level: does this web request fit what its endpoint normally receives?

A profile of normal requests is learned per site and endpoint (the path with numbers, ids and
hashes collapsed), in the spirit of Kruegel and Vigna's "Anomaly detection of web-based attacks"
(CCS 2003) and its successors: for each parameter, how long its values are (Chebyshev bound on
the distance from the mean), which classes of characters they contain (digits, letters, and each
punctuation character on its own: a quote where a baseline never had one is the commonest sign
of injection), which values it takes when it takes only a few (token finder), and which
parameter names, methods and endpoints the site has at all.

Every check yields a probability that normal traffic does this, estimated with counts smoothed
so that the baseline's size bounds the certainty: a character class never seen in n values has
probability 1 / (n + 2) (Laplace's rule of succession); an unseen value, parameter or endpoint has
the Good-Turing probability (things seen once + 1) / (n + 2), which is high for free text and
low for enumerations. A request's score is -log10 of the least likely thing about it, so 3
means "about 1 in 1,000 normal requests do this". Endpoints with few baseline requests fall back
to the site's profile of the same parameter name.

Everything is computed with Polars over whole columns (5 million requests in tens of seconds);
only the explanations of flagged requests are built in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from secaware.detect.decode import decode_series

__all__ = ["CLASSES", "RequestProfile", "class_masks", "normalize_endpoint"]

#: Character classes: (name, label, bytes). Punctuation is one class per character: a quote, a
#: semicolon or a parenthesis where a parameter never had one is what gives injection away.
_PUNCT = [("quote", "'"), ("double quote", '"'), ("semicolon", ";"), ("less-than", "<"), ("greater-than", ">"),
          ("opening parenthesis", "("), ("closing parenthesis", ")"), ("equals sign", "="), ("ampersand", "&"),
          ("pipe", "|"), ("dollar", "$"), ("backtick", "`"), ("opening brace", "{"), ("closing brace", "}"),
          ("opening bracket", "["), ("closing bracket", "]"), ("backslash", "\\"), ("slash", "/"), ("dot", "."),
          ("comma", ","), ("colon", ":"), ("asterisk", "*"), ("exclamation mark", "!"), ("question mark", "?"),
          ("at sign", "@"), ("hash", "#"), ("percent", "%"), ("plus", "+"), ("tilde", "~"), ("caret", "^"),
          ("hyphen", "-"), ("underscore", "_")]
CLASSES: list[tuple[str, str]] = [
    ("digits", "digits"), ("lower", "lower-case letters"), ("upper", "upper-case letters"),
    ("nonascii", "non-ASCII characters"), ("space", "spaces"), ("control", "control characters"),
    *[(name, f"{name} ({ch})") for name, ch in _PUNCT],
    ("dotdot", "a dot-dot (..)"),
]
_BIT = {name: i for i, (name, _) in enumerate(CLASSES)}
_LUT = np.zeros(256, dtype=np.uint64)
_LUT[ord("0"):ord("9") + 1] = 1 << _BIT["digits"]
_LUT[ord("a"):ord("z") + 1] = 1 << _BIT["lower"]
_LUT[ord("A"):ord("Z") + 1] = 1 << _BIT["upper"]
_LUT[0x80:] = 1 << _BIT["nonascii"]
_LUT[[ord(" "), ord("\t")]] = 1 << _BIT["space"]
_LUT[[c for c in range(0x20) if c != ord("\t")] + [0x7F]] = 1 << _BIT["control"]
for _name, _ch in _PUNCT:
    _LUT[ord(_ch)] = 1 << _BIT[_name]
_DOTDOT = np.uint64(1 << _BIT["dotdot"])
_CHUNK_VALUES = 1 << 20

#: Value kinds for explanations ("parameter `id` is numeric in 99.9% of ..."), narrowest first.
_WORD = (1 << _BIT["digits"]) | (1 << _BIT["lower"]) | (1 << _BIT["upper"])
KINDS: list[tuple[str, int]] = [
    ("empty", 0),
    ("numeric", 1 << _BIT["digits"]),
    ("alphabetic", (1 << _BIT["lower"]) | (1 << _BIT["upper"])),
    ("alphanumeric", _WORD),
    ("a word (letters, digits, '-', '_', '.')", _WORD | (1 << _BIT["hyphen"]) | (1 << _BIT["underscore"])
     | (1 << _BIT["dot"])),
]

MIN_REQUESTS = 30  # a profile needs this many baseline requests (or values) to be used
RARE = 0.01  # a character class, method... rarer than this in the baseline counts as unusual
MAX_ENUM = 64  # parameters with at most this many distinct values keep them (token finder)
MAX_PARAMS = 64  # parameters read per request (a request with thousands is cut; the rest would not fit)
MAX_SURPRISE = 12.0


def class_masks(values: pl.Series) -> pl.Series:
    """Bit mask of the character classes in each value (UInt64; null or empty: 0), in numpy over the bytes."""
    out = np.zeros(values.len(), dtype=np.uint64)
    for start in range(0, values.len(), _CHUNK_VALUES):
        part = values.slice(start, _CHUNK_VALUES).cast(pl.String).fill_null("")
        arr = part.to_arrow()
        if hasattr(arr, "combine_chunks"):
            arr = arr.combine_chunks()
        if str(arr.type) != "large_string":
            import pyarrow as pa

            arr = arr.cast(pa.large_string())
        buffers = arr.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
        lo, hi = int(offsets[0]), int(offsets[-1])
        if hi == lo:
            continue
        chunk = data[lo:hi]
        bits = _LUT[chunk]
        pair = np.zeros(chunk.shape[0], dtype=bool)
        pair[:-1] = (chunk[:-1] == ord(".")) & (chunk[1:] == ord("."))
        ends = offsets[1:-1] - lo - 1  # a pair may not run across two values
        pair[ends[(ends >= 0) & (ends < pair.shape[0])]] = False
        bits[pair] |= _DOTDOT
        starts = offsets[:-1] - lo
        nonempty = offsets[1:] > offsets[:-1]
        masks = np.zeros(len(arr), dtype=np.uint64)
        masks[nonempty] = np.bitwise_or.reduceat(bits, starts[nonempty])
        out[start:start + len(arr)] = masks
    return pl.Series(values.name, out, dtype=pl.UInt64)


def class_labels(mask: int) -> list[str]:
    return [label for i, (_, label) in enumerate(CLASSES) if mask >> i & 1]


def normalize_endpoint(path: pl.Expr) -> pl.Expr:
    """The path with what varies per item collapsed: uuids, hex hashes, long tokens, numbers."""
    return (path.fill_null("")
            .str.replace_all(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "{uuid}")
            .str.replace_all(r"[0-9a-fA-F]{16,}", "{hex}")
            .str.replace_all(r"[A-Za-z0-9_\-]{32,}", "{id}")
            .str.replace_all(r"[0-9]+", "{n}")
            .str.slice(0, 200))


def _kind(mask: pl.Expr, length: pl.Expr) -> pl.Expr:
    """Index into KINDS of the narrowest kind the value fits, or len(KINDS) for free text."""
    expr = pl.lit(len(KINDS), dtype=pl.UInt8)
    for i, (_, allowed) in reversed(list(enumerate(KINDS))):
        if i == 0:
            expr = pl.when(length == 0).then(pl.lit(0, dtype=pl.UInt8)).otherwise(expr)
        else:
            expr = pl.when((mask & pl.lit(~allowed & 0xFFFFFFFFFFFFFFFF, dtype=pl.UInt64)) == 0).then(
                pl.lit(i, dtype=pl.UInt8)).otherwise(expr)
    return expr


def prepare(requests: pl.DataFrame, *, max_params: int = MAX_PARAMS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Requests (site, http_method, url_path, url_query) into a request frame and a parameter-value frame.

    Both carry `__row` (the request's position). Names and values are decoded as the application
    sees them (percent, double, %u, +); classes and lengths are measured on the decoded text.
    """
    base = requests.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("__row"), pl.col("site").cast(pl.String),
        pl.col("http_method").fill_null("-").str.to_uppercase().alias("method"),
        pl.col("url_path").cast(pl.String), pl.col("url_query").cast(pl.String))
    path = decode_series(base["url_path"].fill_null(""), plus_is_space=False)
    req = base.select("__row", "site", "method").with_columns(
        path.alias("path")).with_columns(normalize_endpoint(pl.col("path")).alias("endpoint"))
    req = req.with_columns(class_masks(req["path"]).alias("path_mask"))
    kv = (base.select("__row", pl.col("url_query").str.split("&").list.head(max_params).alias("kv"))
          .explode("kv").filter(pl.col("kv").is_not_null() & (pl.col("kv") != ""))
          .with_columns(pl.col("kv").str.splitn("=", 2).alias("__kv")).unnest("__kv")
          .rename({"field_0": "name", "field_1": "value"}).drop("kv"))
    name = decode_series(kv["name"], plus_is_space=True)
    value = decode_series(kv["value"].fill_null(""), plus_is_space=True)
    vals = kv.select("__row").with_columns(name.str.slice(0, 100).alias("name"), value.alias("value"))
    vals = vals.join(req.select("__row", "site", "endpoint"), on="__row", how="left", maintain_order="left")
    vals = vals.with_columns(pl.col("value").str.len_chars().cast(pl.UInt32).alias("len"),
                             class_masks(vals["value"]).alias("mask"))
    vals = vals.with_columns(_kind(pl.col("mask"), pl.col("len")).alias("kind"))
    return req, vals


def _class_counts(mask: str) -> list[pl.Expr]:
    return [((pl.col(mask) & pl.lit(1 << i, dtype=pl.UInt64)) != 0).sum().cast(pl.UInt32).alias(f"c{i}")
            for i in range(len(CLASSES))]


def _param_stats(vals: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per parameter profile (keys + name): counts, length moments, class counts, kinds; and its few values."""
    group = [*keys, "name"]
    stats = vals.group_by(group).agg(
        pl.len().cast(pl.UInt32).alias("n"),
        pl.col("len").cast(pl.Float64).mean().alias("len_mean"),
        pl.col("len").cast(pl.Float64).var(ddof=0).fill_null(0.0).alias("len_var"),
        pl.col("len").max().alias("len_max"),
        pl.col("value").n_unique().cast(pl.UInt32).alias("distinct"),
        *_class_counts("mask"),
        *[(pl.col("kind") == i).sum().cast(pl.UInt32).alias(f"k{i}") for i in range(len(KINDS) + 1)],
    )
    counts = vals.group_by([*group, "value"]).agg(pl.len().cast(pl.UInt32).alias("count"))
    singles = counts.group_by(group).agg((pl.col("count") == 1).sum().cast(pl.UInt32).alias("singletons"))
    stats = stats.join(singles, on=group, how="left", nulls_equal=True)
    enum = counts.join(stats.filter(pl.col("distinct") <= MAX_ENUM).select(group), on=group, how="semi",
                       nulls_equal=True)
    return stats, enum


@dataclass
class Tables:
    sites: pl.DataFrame  # site, n, endpoints, ep_singletons, name_singletons, c* (path classes)
    endpoints: pl.DataFrame  # site, endpoint, n, name_singletons, names
    methods: pl.DataFrame  # site, endpoint (null: whole site), method, count
    params: pl.DataFrame  # pid, level (1 endpoint, 2 site), site, endpoint, name, stats...
    enums: pl.DataFrame  # pid, value, count


def _build(req: pl.DataFrame, vals: pl.DataFrame) -> Tables:
    ep_counts = req.group_by("site", "endpoint").agg(pl.len().cast(pl.UInt32).alias("n"))
    names_per_request = vals.select("__row", "site", "endpoint", "name").unique()
    ep_names = names_per_request.group_by("site", "endpoint", "name").agg(pl.len().alias("requests"))
    ep_single = ep_names.group_by("site", "endpoint").agg(
        (pl.col("requests") == 1).sum().cast(pl.UInt32).alias("name_singletons"),
        pl.col("name").sort_by("requests", descending=True).head(12).alias("names"))
    endpoints = ep_counts.join(ep_single, on=["site", "endpoint"], how="left").with_columns(
        pl.col("name_singletons").fill_null(0), pl.col("names").fill_null([]))
    site_names = names_per_request.group_by("site", "name").agg(pl.len().alias("requests"))
    sites = req.group_by("site").agg(pl.len().cast(pl.UInt32).alias("n"), *_class_counts("path_mask"))
    sites = sites.join(ep_counts.group_by("site").agg(
        pl.len().cast(pl.UInt32).alias("endpoints"),
        (pl.col("n") == 1).sum().cast(pl.UInt32).alias("ep_singletons")), on="site", how="left")
    sites = sites.join(site_names.group_by("site").agg(
        (pl.col("requests") == 1).sum().cast(pl.UInt32).alias("name_singletons")), on="site", how="left"
    ).with_columns(pl.col("name_singletons").fill_null(0))
    methods = pl.concat([
        req.group_by("site", "endpoint", "method").agg(pl.len().cast(pl.UInt32).alias("count")),
        req.group_by("site", "method").agg(pl.len().cast(pl.UInt32).alias("count")).with_columns(
            pl.lit(None, dtype=pl.String).alias("endpoint")).select("site", "endpoint", "method", "count"),
    ])
    ep_stats, ep_enum = _param_stats(vals, ["site", "endpoint"])
    site_stats, site_enum = _param_stats(vals, ["site"])
    ep_stats = ep_stats.with_columns(pl.lit(1, dtype=pl.UInt8).alias("level"))
    site_stats = site_stats.with_columns(pl.lit(2, dtype=pl.UInt8).alias("level"),
                                         pl.lit(None, dtype=pl.String).alias("endpoint"))
    params = pl.concat([ep_stats, site_stats.select(ep_stats.columns)]).with_row_index("pid")
    enums = pl.concat([
        ep_enum.join(params.filter(pl.col("level") == 1).select("pid", "site", "endpoint", "name"),
                     on=["site", "endpoint", "name"]).select("pid", "value", "count"),
        site_enum.join(params.filter(pl.col("level") == 2).select("pid", "site", "name"),
                       on=["site", "name"]).select("pid", "value", "count"),
    ])
    return Tables(sites=sites, endpoints=endpoints, methods=methods, params=params, enums=enums)


def _p(count: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Smoothed probability of something seen `count` times in `n`: (count + 1) / (n + 2)."""
    return (count.cast(pl.Float64) + 1.0) / (n.cast(pl.Float64) + 2.0)


def _surprise(p: pl.Expr) -> pl.Expr:
    return (-p.log10()).clip(0.0, MAX_SURPRISE)


def _rare_classes(mask: str, n: pl.Expr, me: int) -> tuple[pl.Expr, pl.Expr]:
    """Sum of -log10 p over the value's classes that the profile never had or had in fewer than RARE of
    its values, and their mask."""
    total = pl.lit(0.0)
    rare = pl.lit(0, dtype=pl.UInt64)
    n_eff = n.cast(pl.Float64) - me
    for i in range(len(CLASSES)):
        bit = pl.lit(1 << i, dtype=pl.UInt64)
        has = (pl.col(mask) & bit) != 0
        count = pl.col(f"c{i}").cast(pl.Float64) - me
        p = (count + 1.0) / (n_eff + 2.0)
        hit = has & ((count <= 0) | (p < RARE))
        total = total + pl.when(hit).then(_surprise(p)).otherwise(0.0)
        rare = rare | pl.when(hit).then(bit).otherwise(pl.lit(0, dtype=pl.UInt64))
    return total, rare


class RequestProfile:
    """Normal requests per site and endpoint; scores new requests by how unlikely their parts are.

    fit/score take frames with site, http_method, url_path, url_query. Scores are -log10 of the
    estimated probability of the least likely part (see the module docstring); `threshold_` is
    set on the baseline itself: fitted on one half, scored on the other, the score that
    `target_fp` of the held-out normal requests reach (never below `min_threshold`).
    """

    def __init__(self, *, min_requests: int = MIN_REQUESTS, target_fp: float = 0.002, min_threshold: float = 2.5,
                 max_requests: int = 2_000_000, random_state: int = 0) -> None:
        self.min_requests = min_requests
        self.target_fp = target_fp
        self.min_threshold = min_threshold
        self.max_requests = max_requests
        self.random_state = random_state

    def fit(self, requests: pl.DataFrame) -> RequestProfile:
        if requests.height > self.max_requests:
            requests = requests.sample(self.max_requests, seed=self.random_state)
        self.n_requests_ = requests.height
        half = requests.select(pl.int_range(pl.len()).hash(self.random_state) % 2 == 0).to_series()
        a, b = requests.filter(half), requests.filter(~half)
        self.threshold_ = self.min_threshold
        self.calibration_ = {"held_out_requests": b.height}
        if a.height >= self.min_requests and b.height >= self.min_requests:
            self.tables_ = _build(*prepare(a))
            held = self.score(b)["score"]
            q = float(held.quantile(1 - self.target_fp, interpolation="higher") or 0.0)
            self.threshold_ = max(self.min_threshold, round(q + 1e-6, 6))
            self.calibration_["held_out_flagged_at_threshold"] = float((held >= self.threshold_).mean() or 0.0)
        self.tables_ = _build(*prepare(requests))
        self.sites_ = self.tables_.sites.height
        self.endpoints_ = self.tables_.endpoints.height
        self.parameters_ = self.tables_.params.height
        return self

    # ------------------------------------------------------------------------------------ scoring

    def score(self, requests: pl.DataFrame, *, in_sample: bool = False, explain_at: float | None = None
              ) -> pl.DataFrame:
        """One row per request, in order: score, scored (the site has a baseline), and for requests
        scoring at least `explain_at` an explanation and deviations.

        in_sample: the requests are part of the baseline (ad hoc scoring); each is then compared with
        the others only (leave-one-out), never with itself.
        """
        if not hasattr(self, "tables_"):
            raise ValueError("the request profile is not fitted")
        t = self.tables_
        me = 1 if in_sample else 0
        minimum = self.min_requests
        req, vals = prepare(requests)
        req = (req.join(t.sites.select("site", pl.col("n").alias("S_n"), pl.col("endpoints").alias("S_eps"),
                                       pl.col("ep_singletons").alias("S_eps1"),
                                       pl.col("name_singletons").alias("S_names1")), on="site", how="left")
               .join(t.endpoints.select("site", "endpoint", pl.col("n").alias("E_n"),
                                        pl.col("name_singletons").alias("E_names1")),
                     on=["site", "endpoint"], how="left")
               .with_columns(pl.col("S_n").fill_null(0), pl.col("E_n").fill_null(0)))
        site_ok = (pl.col("S_n") - me) >= minimum
        ep_ok = (pl.col("E_n") - me) >= minimum
        # request level: endpoint unknown to a site with a baseline; method; characters in the path
        req = req.with_columns(
            pl.when(site_ok & ((pl.col("E_n") - me) <= 0)).then(_surprise(_p(
                pl.col("S_eps1") - pl.when(pl.col("E_n") == 1).then(me).otherwise(0), pl.col("S_n") - me)))
            .otherwise(0.0).alias("s_endpoint"))
        m = t.methods
        req = (req.join(m.filter(pl.col("endpoint").is_not_null()).select(
                    "site", "endpoint", "method", pl.col("count").alias("em")), on=["site", "endpoint", "method"],
                    how="left")
               .join(m.filter(pl.col("endpoint").is_null()).select("site", "method", pl.col("count").alias("sm")),
                     on=["site", "method"], how="left")
               .with_columns(pl.col("em").fill_null(0), pl.col("sm").fill_null(0)))
        p_ep_m = _p(pl.col("em") - me, pl.col("E_n") - me)
        p_site_m = _p(pl.col("sm") - me, pl.col("S_n") - me)
        req = req.with_columns(
            pl.when(ep_ok & (p_ep_m < RARE)).then(_surprise(p_ep_m))
            .when(~ep_ok & site_ok & (p_site_m < RARE)).then(_surprise(p_site_m)).otherwise(0.0).alias("s_method"))
        path_classes = t.sites.select("site", *[f"c{i}" for i in range(len(CLASSES))])
        distinct_paths = req.select("site", "path_mask", "S_n").unique()
        path_total, path_rare = _rare_classes("path_mask", pl.col("S_n"), me)
        distinct_paths = distinct_paths.join(path_classes, on="site", how="left").with_columns(
            pl.when(site_ok).then(path_total).otherwise(0.0).alias("s_path"),
            pl.when(site_ok).then(path_rare).otherwise(pl.lit(0, dtype=pl.UInt64)).alias("path_rare"),
        ).select("site", "path_mask", "s_path", "path_rare")
        req = req.join(distinct_paths, on=["site", "path_mask"], how="left", nulls_equal=True)

        vals = self._score_values(vals, req, me)
        per_row = vals.group_by("__row").agg(pl.col("s_value").max().alias("s_params"))
        req = req.join(per_row, on="__row", how="left").with_columns(pl.col("s_params").fill_null(0.0))
        req = req.with_columns(
            pl.max_horizontal("s_params", "s_method", "s_endpoint", "s_path").alias("score"),
            site_ok.alias("scored"))
        req = req.sort("__row")
        out = req.select("__row", "site", "endpoint", "score", "scored")
        if explain_at is None:
            return out.drop("__row")
        texts = self._explain(req.filter(pl.col("score") >= explain_at), vals, me)
        return out.join(texts, on="__row", how="left", maintain_order="left").drop("__row")

    def _score_values(self, vals: pl.DataFrame, req: pl.DataFrame, me: int) -> pl.DataFrame:
        t = self.tables_
        minimum = self.min_requests
        params = t.params
        ep_keys = params.filter(pl.col("level") == 1).select("site", "endpoint", "name", pl.col("pid").alias("e_pid"),
                                                              pl.col("n").alias("e_n"))
        site_keys = params.filter(pl.col("level") == 2).select("site", "name", pl.col("pid").alias("s_pid"),
                                                                pl.col("n").alias("s_n"))
        vals = (vals.join(ep_keys, on=["site", "endpoint", "name"], how="left")
                .join(site_keys, on=["site", "name"], how="left")
                .join(req.select("__row", "S_n", "E_n", "S_names1", "E_names1"), on="__row", how="left")
                .with_columns(pl.col("e_n").fill_null(0), pl.col("s_n").fill_null(0)))
        use_ep = (pl.col("e_n") - me) >= minimum
        use_site = ~use_ep & ((pl.col("s_n") - me) >= minimum)
        vals = vals.with_columns(pl.when(use_ep).then(pl.col("e_pid")).when(use_site).then(pl.col("s_pid"))
                                 .alias("pid"))
        # a parameter the endpoint (or, for small endpoints, the site) never had
        ep_known = (pl.col("E_n") - me) >= minimum
        p_ep_name = _p(pl.col("E_names1") - pl.when(pl.col("e_n") == 1).then(me).otherwise(0), pl.col("E_n") - me)
        site_known = (pl.col("S_n") - me) >= minimum
        p_site_name = _p(pl.col("S_names1") - pl.when(pl.col("s_n") == 1).then(me).otherwise(0), pl.col("S_n") - me)
        vals = vals.with_columns(
            pl.when(ep_known & ((pl.col("e_n") - me) <= 0)).then(_surprise(p_ep_name))
            .when(~ep_known & site_known & ((pl.col("s_n") - me) <= 0)).then(_surprise(p_site_name))
            .otherwise(0.0).alias("s_name"))
        stats = params.select("pid", "n", "len_mean", "len_var", "len_max", "distinct", "singletons")
        vals = vals.join(stats, on="pid", how="left")
        # characters: per distinct (profile, class mask), then joined back
        combos = vals.filter(pl.col("pid").is_not_null()).select("pid", "mask", "n").unique()
        class_cols = params.select("pid", *[f"c{i}" for i in range(len(CLASSES))])
        total, rare = _rare_classes("mask", pl.col("n"), me)
        combos = combos.join(class_cols, on="pid", how="left").select(
            "pid", "mask", total.alias("s_class"), rare.alias("rare_mask"))
        vals = vals.join(combos, on=["pid", "mask"], how="left").with_columns(
            pl.col("s_class").fill_null(0.0), pl.col("rare_mask").fill_null(0))
        # length: Chebyshev's bound on being this far above the mean, for values longer than any seen
        n_eff = pl.col("n").cast(pl.Float64) - me
        d = pl.col("len").cast(pl.Float64) - pl.col("len_mean")
        cheb = ((pl.col("len_var") + 1.0) / (d * d)).clip(upper_bound=1.0)
        longer = (pl.col("len") > pl.col("len_max")) if me == 0 else (d > 0)
        vals = vals.with_columns(
            pl.when(pl.col("pid").is_not_null() & longer & (d > 0))
            .then(_surprise(pl.max_horizontal(cheb, 1.0 / (n_eff + 2.0)))).otherwise(0.0).alias("s_len"))
        # token finder: a value a few-valued parameter never took
        vals = vals.join(t.enums.rename({"count": "vcount"}), on=["pid", "value"], how="left")
        enumerated = pl.col("pid").is_not_null() & (pl.col("distinct") <= MAX_ENUM)
        unseen = (pl.col("vcount").fill_null(0) - me) <= 0
        single_self = pl.when(pl.col("vcount") == 1).then(me).otherwise(0)
        p_new = _p(pl.col("singletons") - single_self, n_eff)
        vals = vals.with_columns(
            pl.when(enumerated & unseen).then(_surprise(p_new)).otherwise(0.0).alias("s_enum"))
        return vals.with_columns(pl.max_horizontal("s_class", "s_len", "s_enum", "s_name").alias("s_value"))

    # ------------------------------------------------------------------------------ explanations

    def _explain(self, flagged: pl.DataFrame, vals: pl.DataFrame, me: int) -> pl.DataFrame:
        schema = {"__row": pl.UInt32, "explanation": pl.String,
                  "deviations": pl.List(pl.Struct({"feature": pl.String, "observed": pl.String,
                                                   "typical": pl.String, "score": pl.Float64}))}
        if flagged.height == 0:
            return pl.DataFrame(schema=schema)
        t = self.tables_
        rows = flagged["__row"].implode()
        v = vals.filter(pl.col("__row").is_in(rows) & (pl.col("s_value") >= 1.0))
        kinds = t.params.select("pid", *[f"k{i}" for i in range(len(KINDS) + 1)])
        classes = t.params.select("pid", *[f"c{i}" for i in range(len(CLASSES))])
        v = v.join(kinds, on="pid", how="left").join(classes, on="pid", how="left").join(
            t.params.select("pid", pl.col("level").alias("plevel")), on="pid", how="left")
        enum_examples = (t.enums.join(v.select("pid").unique(), on="pid", how="semi")
                         .sort(["count", "value"], descending=[True, False]).group_by("pid", maintain_order=True)
                         .agg(pl.col("value").head(4).alias("examples")))
        v = v.join(enum_examples, on="pid", how="left")
        endpoints = t.endpoints.select("site", "endpoint", pl.col("names").alias("known_names"))
        v = v.join(endpoints, on=["site", "endpoint"], how="left")
        # ties in order of name: the same explanation on every run
        methods = (t.methods.sort(["count", "method"], descending=[True, False])
                   .group_by("site", "endpoint", maintain_order=True).agg(pl.col("method").head(3).alias("usual")))
        f = flagged.join(methods, on=["site", "endpoint"], how="left", nulls_equal=True)
        findings: dict[int, list[tuple[float, str, dict[str, Any]]]] = {}
        for r in v.iter_rows(named=True):
            findings.setdefault(r["__row"], []).extend(_value_findings(r, me))
        for r in f.iter_rows(named=True):
            findings.setdefault(r["__row"], []).extend(_request_findings(r, me))
        out_rows, texts, devs = [], [], []
        for row, items in findings.items():
            items.sort(key=lambda x: -x[0])
            top = items[:3]
            out_rows.append(row)
            texts.append("; ".join(text for _, text, _ in top))
            devs.append([d for _, _, d in top])
        return pl.DataFrame({"__row": out_rows, "explanation": texts, "deviations": devs}, schema=schema)

    def summary(self) -> dict[str, Any]:
        return {"requests": self.n_requests_, "sites": self.sites_, "endpoints": self.endpoints_,
                "parameter_profiles": self.parameters_, "threshold": self.threshold_,
                "min_requests": self.min_requests, "target_fp": self.target_fp,
                "min_threshold": self.min_threshold, **self.calibration_}


def _where(r: dict[str, Any]) -> str:
    if r.get("plevel") == 2 or r.get("endpoint") is None:
        return f"requests to {r['site']}"
    return f"requests to {r['endpoint']}"


def _chars(n: int) -> str:
    return f"{n} character" if n == 1 else f"{n} characters"


def _join(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _show(value: str, limit: int = 40) -> str:
    text = value if len(value) <= limit else value[:limit] + "..."
    return repr(text)


def _value_findings(r: dict[str, Any], me: int) -> list[tuple[float, str, dict[str, Any]]]:
    out = []
    name = r["name"]
    n = (r["n"] or 0) - me
    where = _where(r)
    length = r["len"] or 0
    if r["s_name"] >= 1.0:
        known = [k for k in (r.get("known_names") or []) if k != name][:6]
        also = f" (it has {', '.join(f'`{k}`' for k in known)})" if known else ""
        scope = r["endpoint"] if (r["E_n"] or 0) - me >= 30 else r["site"]
        total = ((r["E_n"] if scope == r["endpoint"] else r["S_n"]) or 0) - me
        text = f"parameter `{name}` never appears in {total:,} baseline requests to {scope}{also}"
        out.append((r["s_name"], text, {"feature": f"parameter {name}", "observed": "present",
                                        "typical": "never present", "score": round(r["s_name"], 3)}))
    if r["s_class"] >= 1.0:
        rare = int(r["rare_mask"])
        labels = class_labels(rare)
        never = all((r.get(f"c{i}") or 0) - me <= 0 for i in range(len(CLASSES)) if rare >> i & 1)
        kinds = [r.get(f"k{i}") or 0 for i in range(len(KINDS) + 1)]
        total = max(sum(kinds) - me, 1)
        top = max(range(len(kinds)), key=lambda i: kinds[i])
        share = kinds[top] / total
        including = _join(labels)
        if top < len(KINDS) and share >= 0.5:
            typical = f"{KINDS[top][0]} ({share:.1%})"
            text = (f"parameter `{name}` is {KINDS[top][0]} in {share:.1%} of {n:,} baseline {where}, but this "
                    f"value has {_chars(length)} including {including}")
        else:
            typical = f"never {including}" if never else f"{including} in under 1%"
            how = "never had" if never else "had"
            share_of = "" if never else "fewer than 1% of "
            text = (f"parameter `{name}` {how} {including} in {share_of}{n:,} baseline {where}, but this value "
                    f"has {_chars(length)} including {'them' if len(labels) > 1 else 'it'}")
        out.append((r["s_class"], text, {"feature": f"parameter {name}: characters",
                                         "observed": f"{_chars(length)} including {including}",
                                         "typical": typical, "score": round(r["s_class"], 3)}))
    if r["s_len"] >= 1.0:
        text = (f"parameter `{name}` is at most {_chars(r['len_max'])} long in {n:,} baseline {where} (mean "
                f"{r['len_mean']:.0f}), but this value has {length}")
        out.append((r["s_len"], text, {"feature": f"parameter {name}: length", "observed": f"{length}",
                                       "typical": f"mean {r['len_mean']:.0f}, at most {r['len_max']}",
                                       "score": round(r["s_len"], 3)}))
    if r["s_enum"] >= 1.0:
        examples = ", ".join(_show(x, 20) for x in (r.get("examples") or []))
        values = "value" if r["distinct"] == 1 else "values"
        text = (f"parameter `{name}` takes only {r['distinct']} {values} in {n:,} baseline {where} ({examples}), "
                f"but this value is {_show(r['value'])}")
        out.append((r["s_enum"], text, {"feature": f"parameter {name}: value", "observed": _show(r["value"]),
                                        "typical": examples, "score": round(r["s_enum"], 3)}))
    return out


def _request_findings(r: dict[str, Any], me: int) -> list[tuple[float, str, dict[str, Any]]]:
    out = []
    if r["s_endpoint"] >= 1.0:
        n = (r["S_n"] or 0) - me
        text = (f"endpoint {r['endpoint']} is not in the baseline of {r['site']} ({r['S_eps']:,} endpoints in {n:,} "
                f"requests)")
        out.append((r["s_endpoint"], text, {"feature": "endpoint", "observed": r["endpoint"],
                                            "typical": f"{r['S_eps']:,} known endpoints",
                                            "score": round(r["s_endpoint"], 3)}))
    if r["s_method"] >= 1.0:
        usual = ", ".join(r.get("usual") or [])
        text = f"method {r['method']} is rare or new for {r['endpoint']} (usual: {usual})"
        out.append((r["s_method"], text, {"feature": "method", "observed": r["method"], "typical": usual,
                                          "score": round(r["s_method"], 3)}))
    if r["s_path"] >= 1.0:
        labels = _join(class_labels(int(r["path_rare"])))
        n = (r["S_n"] or 0) - me
        text = f"the path has {labels}, which fewer than 1% of {n:,} baseline paths of {r['site']} have"
        out.append((r["s_path"], text, {"feature": "path: characters", "observed": labels,
                                        "typical": "absent", "score": round(r["s_path"], 3)}))
    return out

