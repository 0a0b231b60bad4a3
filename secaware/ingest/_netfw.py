"""Expression helpers shared by the firewall message parsers (iptables, Huawei, H3C, Hillstone, Sangfor).

Every vendor says the same few things differently (protocol 6 or TCP or tcp, `-` or `(null)` for
nobody, `,` or `, ` or `;` between pairs); normalizing them here keeps the stored values the same
whichever device wrote them, so a rule or a pivot on `protocol == "tcp"` works across vendors.
"""

from __future__ import annotations

import polars as pl

from secaware.ingest._common import to_int

#: IANA protocol numbers that devices log instead of names (Huawei POLICYDENY, Sangfor NAT).
PROTOCOL_NUMBERS = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "51": "ah",
                    "58": "ipv6-icmp", "89": "ospf", "132": "sctp"}

def blank_null(expr: pl.Expr, *nothing: str) -> pl.Expr:
    """Empty values (and the vendor's own words for nothing) become null, trimmed otherwise.

    Devices write empty fields as ``Key=;``, ``-`` or ``(null)``; a stored empty string would make
    `is_null()` filters and group-bys treat "not logged" as a value.
    """
    value = expr.str.strip_chars()
    return pl.when(value.is_in(["", *nothing])).then(None).otherwise(value)


def protocol(expr: pl.Expr) -> pl.Expr:
    """Lower-case protocol name; IANA numbers become names so 6 and TCP group together."""
    value = blank_null(expr).str.to_lowercase()
    return value.replace(PROTOCOL_NUMBERS)


def snake(expr: pl.Expr) -> pl.Expr:
    """`Session created` / `SESSION_TEARDOWN` -> `session_created` / `session_teardown`.

    event_action is compared across vendors and in rules, so its spelling must not depend on how
    a device capitalizes or punctuates its event names.
    """
    return expr.str.strip_chars().str.to_lowercase().str.replace_all(r"[^\w]+", "_").str.strip_chars("_")


def port(expr: pl.Expr) -> pl.Expr:
    return to_int(expr, pl.Int32)


def count(expr: pl.Expr) -> pl.Expr:
    return to_int(expr, pl.Int64)


def action_from_words(expr: pl.Expr) -> pl.Expr:
    """allow/deny/drop/reject from free text such as a log prefix or a verdict word.

    The first decisive word wins (`[UFW BLOCK]`, `iptables denied:`, `Permit`); text without one
    stays null rather than guessed, so `action IS NULL` means the log did not say.
    """
    word = expr.str.to_uppercase().str.extract(r"(REJECT|DROP|BLOCK|DENY|DENIED|DISCARD|ALLOW|ACCEPT|PERMIT)",
                                               1)
    return word.replace_strict(
        {"REJECT": "reject", "DROP": "drop", "DISCARD": "drop", "BLOCK": "deny", "DENY": "deny", "DENIED": "deny",
         "ALLOW": "allow", "ACCEPT": "allow", "PERMIT": "allow"},
        default=None, return_dtype=pl.String)


def add_warning(condition: pl.Expr, text: str | pl.Expr) -> pl.Expr:
    """Append a parse warning where condition holds, keeping the reader's own warning.

    A vendor body that could only be partly read still becomes an event (the header is good), and
    the warning tells the analyst why some of its fields are empty.
    """
    mine = pl.when(condition).then(pl.lit(text) if isinstance(text, str) else text)
    joined = pl.concat_str([pl.col("warning"), mine], separator="; ", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined).alias("warning")


def keys_written(body: pl.Expr, key: str, columns: dict[str, str], *, fold_case: bool = False) -> pl.Expr:
    """The columns whose keys a pair body writes, once per time written.

    For vendors that neither quote nor escape values (Huawei, Sangfor): a key written twice may be
    someone's text imitating it, so `once` and `twice` ask this list. One scan of the body finds
    every key (`key` matches one as written, its first group the name; `columns` maps each name,
    lowercase with fold_case, to its column); a count per key made parsing a firewall log a
    quarter slower.
    """
    name = pl.element().str.extract(key, 1)
    return body.str.extract_all(key).list.eval(
        (name.str.to_lowercase() if fold_case else name).replace_strict(columns, default=None, return_dtype=pl.String)
    ).list.drop_nulls()


def once(written: pl.Expr, column: str) -> pl.Expr:
    """The column's key is written exactly once (keys_written)."""
    return written.list.count_matches(column) == 1


def twice(written: pl.Expr) -> pl.Expr:
    """Some key is written more than once (keys_written)."""
    return written.list.n_unique() < written.list.len()

