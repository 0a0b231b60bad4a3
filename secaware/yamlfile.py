"""YAML files written by hand (rules, the inventory, the allowlist): every mistake says where it is.

PyYAML's safe loader reports syntax errors with their line, but two mistakes escape as bare Python
errors that stopped whole runs: a date that does not exist (`until: 2026-13-45`, `date: 2026-02-30`:
a ValueError from the date constructor, with no line) and nesting deep enough to exhaust the stack
(a RecursionError). Here a date that does not exist stays the text it was, so the caller's own
check of that field names the entry and the fix, and nesting is a YAMLError like any other. For
files another library reads with PyYAML itself (pySigma and rule files), `mistake` says what and
where.
"""

from __future__ import annotations

from typing import Any

import yaml

_DEEP = "nested too deeply to read (thousands of levels of lists or mappings)"


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


def _checked_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date or time ({exc}): write one such as 2027-06-30, "
            "or quote it to keep it as text", node.start_mark) from exc


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader (no tags run code); a date that does not exist stays text."""


Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, whose dates that do not exist are errors with their line."""


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _checked_timestamp)


def load(text: str, loader: type[Loader] = Loader, name: str = "<text>") -> Any:
    """The document in text; a YAMLError (with the line where there is one) for any mistake in it.
    `name` is what the error's position calls the text (the file)."""
    reader = loader(text)
    reader.name = name
    try:
        return reader.get_single_data()
    except RecursionError as exc:
        raise yaml.YAMLError(_DEEP) from exc
    finally:
        reader.dispose()


def mistake(text: str, name: str = "<text>") -> str | None:
    """Why text is not readable YAML, with the line, or None when it is: for a file another library
    failed to read with a bare Python error (pySigma reads rule files with PyYAML's own loader)."""
    reader = _StrictLoader(text)
    reader.name = name
    try:
        while reader.check_data():
            reader.get_data()
    except RecursionError:
        return _DEEP
    except yaml.YAMLError as exc:
        return str(exc).replace("\n", " ")
    finally:
        reader.dispose()
    return None
