"""The imagined province network the samples come from, fixed rather than random.

A fixed topology keeps system ids, addresses and vendors stable across seeds, so documentation,
rules and tests can name `lz-portal` or `10.1.1.10` and still hold when the traffic seed changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from secaware.prefectures import PREFECTURES


@dataclass(frozen=True)
class Host:
    name: str
    ip: str


@dataclass(frozen=True)
class System:
    id: str
    name: str
    prefecture: str
    kind: str
    level: int
    domain: str
    web: str
    os: str
    hosts: tuple[Host, ...]
    subnet: str
    public_ip: str
    online_since: date
    ufw: bool = False

    @property
    def auth_file(self) -> str | None:
        """RHEL-family hosts log to `secure`, Debian-family to `auth.log`, Windows has no syslog."""
        if self.os == "windows":
            return None
        return "secure" if self.os in ("centos7", "kylin10") else "auth.log"

    @property
    def rfc3164(self) -> bool:
        """CentOS 7 and Kylin V10 keep rsyslog's traditional template; Debian 12/Ubuntu 24.04 use RFC 3339."""
        return self.os in ("centos7", "kylin10")


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    pinyin: str
    abbr: str
    index: int
    systems: tuple[System, ...]
    management: str
    scanners: tuple[str, ...]
    fw_vendor: str
    fw_device: str
    fw_style: str

    @property
    def dirname(self) -> str:
        return f"{self.code}-{self.pinyin}"

    @property
    def fw_file(self) -> str:
        return f"{self.dirname}/firewall/{self.fw_vendor}.log"


_KIND_NAMES = {
    "zwfw": "{city}政务服务网",
    "gjj": "{city}住房公积金管理中心网上服务大厅",
    "oa": "{city}协同办公系统",
    "bdc": "{city}不动产登记信息平台",
    "rx": "{city}12345政务服务便民热线平台",
    "sb": "{city}社会保险网上经办系统",
    "jy": "{city}教育招生考试信息网",
    "yb": "{city}医疗保障网上服务平台",
}

# abbr, domain, portal web style, portal os, vendor, vendor style/device,
# then two business systems as (kind, level, web style, os), and whether a scanner is authorized.
_PLAN: dict[str, tuple] = {
    "620100": (
        "lz",
        "www.lanzhou.gov.cn",
        "nginx_xff",
        "ubuntu24",
        "huawei-usg",
        "iso",
        (("zwfw", 3, "nginx", "ubuntu24"), ("gjj", 3, "nginx", "kylin10")),
        True,
    ),
    "620200": (
        "jyg",
        "www.jyg.gov.cn",
        "nginx",
        "debian12",
        "hillstone",
        "hs",
        (("oa", 2, "nginx", "debian12"), ("bdc", 3, "apache", "centos7")),
        False,
    ),
    "620300": (
        "jc",
        "www.jc.gov.cn",
        "apache",
        "centos7",
        "h3c",
        "h3c",
        (("zwfw", 2, "nginx", "ubuntu22"), ("rx", 2, "nginx", "ubuntu22")),
        False,
    ),
    "620400": (
        "by",
        "www.baiyin.gov.cn",
        "apache_common",
        "centos7",
        "sangfor",
        "sf",
        (("oa", 2, "nginx", "ubuntu22"), ("sb", 3, "nginx", "kylin10")),
        False,
    ),
    "620500": (
        "ts",
        "www.tianshui.gov.cn",
        "nginx",
        "ubuntu22",
        "huawei-usg",
        "bsd",
        (("gjj", 3, "iis", "windows"), ("zwfw", 2, "nginx", "ubuntu22")),
        True,
    ),
    "620600": (
        "ww",
        "www.gswuwei.gov.cn",
        "nginx_xff",
        "ubuntu24",
        "h3c",
        "h3c",
        (("bdc", 3, "nginx", "ubuntu24"), ("oa", 2, "apache", "centos7")),
        False,
    ),
    "620700": (
        "zy",
        "www.zhangye.gov.cn",
        "nginx",
        "debian12",
        "hillstone",
        "hs",
        (("zwfw", 2, "nginx", "debian12"), ("jy", 2, "apache", "debian12")),
        False,
    ),
    "620800": (
        "pl",
        "www.pingliang.gov.cn",
        "apache",
        "centos7",
        "sangfor",
        "sf",
        (("gjj", 3, "nginx", "centos7"), ("oa", 2, "nginx", "ubuntu22")),
        False,
    ),
    "620900": (
        "jq",
        "www.jiuquan.gov.cn",
        "nginx",
        "ubuntu22",
        "huawei-usg",
        "slash_utc",
        (("bdc", 3, "nginx", "kylin10"), ("zwfw", 2, "nginx", "ubuntu22")),
        True,
    ),
    "621000": (
        "qy",
        "www.zgqingyang.gov.cn",
        "nginx_xff",
        "ubuntu24",
        "hillstone",
        "hs",
        (("zwfw", 2, "nginx", "ubuntu24"), ("yb", 3, "nginx", "ubuntu24")),
        False,
    ),
    "621100": (
        "dx",
        "www.dingxi.gov.cn",
        "nginx",
        "debian12",
        "h3c",
        "h3c_spaced",
        (("oa", 2, "nginx", "debian12"), ("rx", 2, "apache", "debian12")),
        False,
    ),
    "621200": (
        "ln",
        "www.longnan.gov.cn",
        "nginx",
        "ubuntu22",
        "sangfor",
        "sf",
        (("zwfw", 2, "nginx", "ubuntu22"), ("bdc", 3, "nginx", "ubuntu22")),
        False,
    ),
    "622900": (
        "lx",
        "www.linxia.gov.cn",
        "apache",
        "kylin10",
        "hillstone",
        "hs",
        (("oa", 2, "nginx", "kylin10"), ("gjj", 3, "nginx", "kylin10")),
        False,
    ),
    "623000": (
        "gn",
        "www.gnzrmzf.gov.cn",
        "nginx",
        "debian12",
        "huawei-usg",
        "none",
        (("zwfw", 2, "nginx", "debian12"), ("sb", 3, "nginx", "debian12")),
        False,
    ),
}

_UFW_SYSTEMS = {"lz-portal", "ww-portal", "qy-portal", "qy-yb"}
_HW_MODELS = {"iso": "USG6550", "bsd": "USG6300", "slash_utc": "USG6650", "none": "USG6330"}


def _fw_device(abbr: str, index: int, vendor: str, style: str) -> str:
    if vendor == "huawei-usg":
        return f"GS-{abbr.upper()}-{_HW_MODELS[style]}-01"
    if vendor == "h3c":
        return f"GS-{abbr.upper()}-ZWW-F1070-FW01"
    if vendor == "hillstone":
        return f"130441517200{4300 + index * 7:04d}"
    return "localhost"


def build_topology() -> tuple[Site, ...]:
    """Return the 14 sites in GB/T 2260 order; portal first, then the two business systems."""
    sites = []
    for index, pref in enumerate(PREFECTURES, start=1):
        abbr, domain, pweb, pos, vendor, style, business, scanner = _PLAN[pref.code]
        net = f"10.{index}"
        city = pref.name
        systems = [
            System(
                id=f"{abbr}-portal",
                name=f"{city}人民政府门户网站",
                prefecture=pref.code,
                kind="portal",
                level=3,
                domain=domain,
                web=pweb,
                os=pos,
                hosts=(Host(f"{abbr}-web-01", f"{net}.1.10"), Host(f"{abbr}-web-02", f"{net}.1.11")),
                subnet=f"{net}.1.0/28",
                public_ip=f"61.178.{100 + index}.10",
                online_since=date(2016 + index % 4, 3 + index % 9, 1),
                ufw=f"{abbr}-portal" in _UFW_SYSTEMS,
            )
        ]
        for n, (kind, level, web, os_) in enumerate(business, start=2):
            hosts = [Host(f"{abbr}-{kind}-01", f"{net}.{n}.10")]
            if (index + n) % 3 == 0:
                hosts.append(Host(f"{abbr}-{kind}-02", f"{net}.{n}.11"))
            sub = domain.removeprefix("www.")
            systems.append(
                System(
                    id=f"{abbr}-{kind}",
                    name=_KIND_NAMES[kind].format(city=city),
                    prefecture=pref.code,
                    kind=kind,
                    level=level,
                    domain=f"{kind}.{sub}",
                    web=web,
                    os=os_,
                    hosts=tuple(hosts),
                    subnet=f"{net}.{n}.0/28",
                    public_ip=f"61.178.{100 + index}.{10 * n}",
                    online_since=date(2018 + (index + n) % 6, 1 + (index * n) % 12, 1),
                    ufw=f"{abbr}-{kind}" in _UFW_SYSTEMS,
                )
            )
        sites.append(
            Site(
                code=pref.code,
                name=pref.name,
                pinyin=pref.pinyin,
                abbr=abbr,
                index=index,
                systems=tuple(systems),
                management=f"{net}.250.0/24",
                scanners=(f"{net}.9.9",) if scanner else (),
                fw_vendor=vendor,
                fw_device=_fw_device(abbr, index, vendor, style),
                fw_style=style,
            )
        )
    return tuple(sites)


def site_by_abbr(sites: tuple[Site, ...], abbr: str) -> Site:
    """Scenarios name sites by their short prefix, the way operators talk about them."""
    return next(s for s in sites if s.abbr == abbr)


def system_by_id(sites: tuple[Site, ...], system_id: str) -> System:
    return next(sy for s in sites for sy in s.systems if sy.id == system_id)
