"""Meta-tests: the documentation that users and tools read matches the code."""

from __future__ import annotations

import re

from click.testing import CliRunner

from secaware.cli import cli
from secaware.docs import schema_markdown
from secaware.ingest.formats import FORMATS
from tests.conftest import ROOT


def test_schema_doc_is_current() -> None:
    assert (ROOT / "docs" / "schema.md").read_text() == schema_markdown() + "\n"


def test_every_command_has_help() -> None:
    for name, command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert command.help and len(command.help) > 30, name


def test_every_format_is_documented_and_tested() -> None:
    readme = (ROOT / "README.md").read_text()
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    for name in FORMATS:
        assert f"`{name}`" in readme, f"format {name} missing from the README table"
        assert re.search(rf"[\"']{re.escape(name)}[\"']", tests), f"no test names format {name}"


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
    assert len(blocks) == 2 and all(b.count("\n") == 1 for b in blocks)
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci
