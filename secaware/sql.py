"""`secaware query`: SQL over the store's tables for the morning after, read-only by construction.

Polars' SQL engine runs over lazy scans of the Delta tables; it has no statement that writes
files, so a query cannot change the store. Only the columns and files a query needs are read.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from secaware.errors import SecawareError
from secaware.schema import TABLE_COLUMNS
from secaware.store import Store

#: Tables a query can name, as the issue lists them; others in the store (ingest_log...) too.
QUERY_TABLES = ("events", "rejects", "alerts", "anomalies", "incidents", "compliance", "ingest_log")

_WRITES = re.compile(r"^\s*(create|drop|insert|update|delete|copy|alter|truncate)\b", re.I)


def query(store: str | Path | Store, sql: str) -> pl.DataFrame:
    """Run one SELECT over the store's tables; errors say what was wrong and what exists."""
    store = store if isinstance(store, Store) else Store(store)
    if not store.root.is_dir():
        raise SecawareError(f"{store.root}: no such store")
    if _WRITES.match(sql):
        raise SecawareError("queries are read-only: use SELECT (or WITH ... SELECT)")
    tables = {t: store.scan(t) for t in QUERY_TABLES if store.exists(t) or t in TABLE_COLUMNS}
    ctx = pl.SQLContext(tables, eager=False)
    try:
        return ctx.execute(sql).collect()
    except pl.exceptions.SQLInterfaceError as exc:
        text = str(exc)
        missing = re.search(r"relation '([^']+)' was not found", text)
        if missing:
            raise SecawareError(f"no table {missing.group(1)!r}; tables: {', '.join(sorted(tables))}") from exc
        raise SecawareError(f"SQL error: {text}") from exc
    except pl.exceptions.SQLSyntaxError as exc:
        raise SecawareError(f"SQL syntax error: {exc}") from exc
    except pl.exceptions.ColumnNotFoundError as exc:
        first = str(exc).split("\n\nResolved plan")[0].replace("\n\n", " ")
        raise SecawareError(f"unknown column: {first} (columns are listed in docs/schema.md)") from exc
    except pl.exceptions.PolarsError as exc:
        raise SecawareError(f"query failed: {str(exc).splitlines()[0]}") from exc
