"""Text from logs made visible: control and bidirectional-override characters shown as escapes.

A log line can carry terminal escape sequences (which rewrite a responder's screen) and bidi
overrides (which make text read differently from what it is). Terminal output and reports show
them as `\\x1b` and `\\u202e`, never as the characters themselves.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """text with every control, zero-width and bidi-override character replaced by its escape."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                       else f"\\u{ord(m.group(0)):04x}", text)
