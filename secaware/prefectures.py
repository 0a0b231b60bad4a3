"""The 14 prefecture-level divisions of Gansu Province, by GB/T 2260 code.

Collector directories, inventories and reports name prefectures in three ways (code, Chinese
name, pinyin); one table here lets every stage accept any of them and store only the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prefecture:
    code: str
    name: str
    pinyin: str
    name_en: str


PREFECTURES: tuple[Prefecture, ...] = (
    Prefecture("620100", "兰州市", "lanzhou", "Lanzhou"),
    Prefecture("620200", "嘉峪关市", "jiayuguan", "Jiayuguan"),
    Prefecture("620300", "金昌市", "jinchang", "Jinchang"),
    Prefecture("620400", "白银市", "baiyin", "Baiyin"),
    Prefecture("620500", "天水市", "tianshui", "Tianshui"),
    Prefecture("620600", "武威市", "wuwei", "Wuwei"),
    Prefecture("620700", "张掖市", "zhangye", "Zhangye"),
    Prefecture("620800", "平凉市", "pingliang", "Pingliang"),
    Prefecture("620900", "酒泉市", "jiuquan", "Jiuquan"),
    Prefecture("621000", "庆阳市", "qingyang", "Qingyang"),
    Prefecture("621100", "定西市", "dingxi", "Dingxi"),
    Prefecture("621200", "陇南市", "longnan", "Longnan"),
    Prefecture("622900", "临夏回族自治州", "linxia", "Linxia Hui Autonomous Prefecture"),
    Prefecture("623000", "甘南藏族自治州", "gannan", "Gannan Tibetan Autonomous Prefecture"),
)

BY_CODE: dict[str, Prefecture] = {p.code: p for p in PREFECTURES}

_ALIASES: dict[str, str] = {}
for _p in PREFECTURES:
    for _alias in (_p.code, _p.name, _p.pinyin, _p.name_en.lower(), _p.name.removesuffix("市")):
        _ALIASES[_alias.lower()] = _p.code
_ALIASES["临夏"] = "622900"
_ALIASES["甘南"] = "623000"


def resolve(value: str | int) -> str | None:
    """Return the GB/T 2260 code for a code, Chinese name or pinyin; None if it names no prefecture."""
    return _ALIASES.get(str(value).strip().lower())


def from_path(path: str) -> str | None:
    """Find the prefecture a collector path belongs to, from a directory named after it.

    A component matches when it is a code, a name or a pinyin, alone or as the first part of a
    `620100-lanzhou` or `lanzhou_portal` style name, so collectors need no extra configuration.
    """
    parts = path.replace("\\", "/").split("/")
    for part in reversed(parts[:-1]):
        low = part.lower()
        code = _ALIASES.get(low)
        if code is None:
            for sep in ("-", "_", "."):
                if sep in low:
                    code = _ALIASES.get(low.split(sep, 1)[0])
                    if code:
                        break
        if code:
            return code
    return None
