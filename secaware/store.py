"""The store: a directory of Delta Lake tables, the only interface between stages.

Data files are written with Polars' Parquet writer (multithreaded, about twice as fast as the
delta-rs writer here) and committed with deltalake's transaction API, which lets a stage write
several files while it streams and make them visible in one atomic commit. Each commit carries a
Delta application transaction (`txn` action) naming the batch, so after a crash a stage can ask
each table which batch it last committed and undo anything half-done.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import polars as pl
from deltalake import CommitProperties, DeltaTable, Schema, write_deltalake
from deltalake.transaction import AddAction, Transaction, create_table_with_add_actions

from secaware import schema as sch
from secaware.errors import StoreError

_STATS_TYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.Float32, pl.Float64, pl.Datetime, pl.Date)


class Store:
    """A store directory; tables are created on first write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def path(self, table: str) -> Path:
        return self.root / table

    def exists(self, table: str) -> bool:
        return DeltaTable.is_deltatable(str(self.path(table)))

    def ensure(self, *tables: str) -> None:
        """Create empty tables that do not exist yet, so readers can always scan them.

        Creating them before a stage starts also pays deltalake's one-off runtime start-up (about
        100 MB) at the beginning rather than at the first commit.
        """
        for table in tables:
            if not self.exists(table):
                self.path(table).mkdir(parents=True, exist_ok=True)
                DeltaTable.create(str(self.path(table)), Schema.from_arrow(_arrow_schema(table)), mode="ignore")

    def scan(self, table: str) -> pl.LazyFrame:
        """Lazily read a table; an absent table reads as empty with its declared schema."""
        if not self.exists(table):
            if table in sch.TABLE_COLUMNS:
                return pl.LazyFrame(schema=sch.schema(table))
            raise StoreError(f"no table {table!r} in the store")
        return pl.scan_delta(str(self.path(table)))

    def stage(self, table: str, df: pl.DataFrame) -> AddAction | None:
        """Write one Parquet data file into a table's directory without committing it.

        Until `commit` names it, no reader sees the file; a crash leaves only an orphan that
        `vacuum` removes. Columns that are null in every row are left out of the file: Delta
        readers (Polars, delta-rs, Spark, Trino) read a column a file lacks as null, as after a
        schema change, and a wide events table is mostly such columns for any one format, which
        would otherwise cost a third of the write time.
        """
        if df.height == 0:
            return None
        if table in sch.TABLE_COLUMNS and df.schema != sch.schema(table):
            df = sch.conform(df, table).collect()
        directory = self.path(table)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.zstd.parquet"
        target = directory / name
        stats = _stats_json(df)
        nulls = df.null_count().row(0)
        present = [c for c, n in zip(df.columns, nulls, strict=True) if n < df.height]
        df.select(present).write_parquet(target, compression="zstd", compression_level=1, data_page_size=4 << 20)
        st = target.stat()
        return AddAction(
            path=name,
            size=st.st_size,
            partition_values={},
            modification_time=int(st.st_mtime * 1000),
            data_change=True,
            stats=stats,
        )

    def commit(self, table: str, actions: Iterable[AddAction | None], *, app_id: str,
               batch_id: int | None) -> None:
        """Atomically add staged files to a table, recording batch_id as app_id's transaction version.

        batch_id None commits without moving app_id's version (a rewrite of a past window).
        """
        actions = [a for a in actions if a is not None]
        props = CommitProperties(
            app_transactions=[Transaction(app_id=app_id, version=batch_id)] if batch_id is not None else None,
            custom_metadata={"secaware.batch_id": -1 if batch_id is None else batch_id, "secaware.app": app_id},
        )
        uri = str(self.path(table))
        delta_schema = Schema.from_arrow(_arrow_schema(table))
        if self.exists(table):
            DeltaTable(uri).create_write_transaction(actions, mode="append", schema=delta_schema,
                                                     commit_properties=props)
        else:
            self.path(table).mkdir(parents=True, exist_ok=True)
            create_table_with_add_actions(uri, delta_schema, actions, mode="append",
                                          commit_properties=props)

    def append(self, table: str, df: pl.DataFrame, *, app_id: str, batch_id: int | None) -> None:
        """Stage and commit one frame (for small tables)."""
        self.commit(table, [self.stage(table, df)], app_id=app_id, batch_id=batch_id)

    def committed_batch(self, table: str, app_id: str) -> int | None:
        """The last batch app_id committed to table, from the Delta transaction log."""
        if not self.exists(table):
            return None
        return DeltaTable(str(self.path(table))).transaction_version(app_id)

    def replace(self, table: str, df: pl.DataFrame) -> None:
        """Atomically replace a small table's contents (one Delta overwrite commit; history is kept)."""
        if table in sch.TABLE_COLUMNS and df.schema != sch.schema(table):
            df = sch.conform(df, table).collect()
        self.path(table).mkdir(parents=True, exist_ok=True)
        write_deltalake(str(self.path(table)), df.to_arrow(), mode="overwrite",
                        schema_mode="overwrite" if self.exists(table) else None)

    def delete(self, table: str, predicate: str) -> int:
        """Delete rows matching a Delta SQL predicate; returns how many were removed."""
        if not self.exists(table):
            return 0
        metrics = DeltaTable(str(self.path(table))).delete(predicate)
        return int(metrics.get("num_deleted_rows", 0))

    def delete_batches_after(self, table: str, batch_id: int) -> int:
        """Remove rows a crashed run committed beyond batch_id; returns how many were removed."""
        if not self.exists(table):
            return 0
        metrics = DeltaTable(str(self.path(table))).delete(f"batch_id > {int(batch_id)}")
        return int(metrics.get("num_deleted_rows", 0))


def _arrow_schema(table: str):  # type: ignore[no-untyped-def]
    return pl.DataFrame(schema=sch.schema(table)).to_arrow().schema


def _stat_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _stats_json(df: pl.DataFrame) -> str:
    """Delta file statistics: row count, null counts, and min/max of numeric and time columns.

    Readers skip whole files with these (a batch, a time range), so they must be exact; strings
    get null counts only, which is always safe.
    """
    ranged = [n for n, t in df.schema.items() if isinstance(t, _STATS_TYPES)]
    row = df.select(
        *[pl.col(n).null_count().alias(f"n:{n}") for n in df.columns],
        *[pl.col(n).min().alias(f"lo:{n}") for n in ranged],
        *[pl.col(n).max().alias(f"hi:{n}") for n in ranged],
    ).row(0, named=True)
    lo = {n: _stat_value(row[f"lo:{n}"]) for n in ranged if row[f"lo:{n}"] is not None}
    hi = {n: _stat_value(row[f"hi:{n}"]) for n in ranged if row[f"hi:{n}"] is not None}
    nulls = {n: row[f"n:{n}"] for n in df.columns}
    return json.dumps({"numRecords": df.height, "minValues": lo, "maxValues": hi, "nullCount": nulls})
