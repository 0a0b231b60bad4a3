"""Documentation generated from the code, so the column reference can never drift from the schema."""

from __future__ import annotations

from secaware.schema import TABLE_COLUMNS


def schema_markdown() -> str:
    """docs/schema.md: every table and column with its type, ECS field and Sigma names."""
    out = [
        "# Store tables and columns",
        "",
        "Generated from `secaware/schema.py` by `python -m secaware.docs > docs/schema.md`; a test keeps it current.",
        "Column names are an interface: other stages, SQL users and outside tools (Spark, Trino, DuckDB) rely on them.",
        "Each table is a Delta Lake table in the store directory (`STORE/<table>`).",
        "",
    ]
    for table, columns in TABLE_COLUMNS.items():
        out += [f"## `{table}`", "", "| column | type | ECS | Sigma taxonomy | meaning |", "|---|---|---|---|---|"]
        for c in columns:
            sigma = ", ".join(f"`{s}`" for s in c.sigma) or ""
            ecs = f"`{c.ecs}`" if c.ecs else ""
            doc = c.doc.replace("|", "\\|")
            out.append(f"| `{c.name}` | {c.dtype} | {ecs} | {sigma} | {doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(schema_markdown())
