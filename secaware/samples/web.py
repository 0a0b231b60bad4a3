"""Ordinary visitors, officials and crawlers on the websites: the background attacks hide in.

Visits are generated as browsing sessions (a page, its assets, the next page with a referer) so
that per-IP features such as pages per visit and the 304 share look like a real portal's.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from urllib.parse import quote

from secaware.samples.clock import FLAT_WEIGHTS, pick_time
from secaware.samples.model import Request
from secaware.samples.topology import Site, System

BROWSERS: tuple[tuple[str, int], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        22,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        12,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/94.0.4606.71 Safari/537.36 Core/1.94.253.400 QQBrowser/12.6.5822.400",
        6,
    ),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", 3),
    (
        "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/86.0.4240.198 Safari/537.36",
        5,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0", 3),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15",
        3,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN",
        10,
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; NOH-AN00 Build/HUAWEINOH-AN00; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36",
        9,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; 23127PN0CC Build/UKQ1.230804.001) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36 XiaoMi/MiuiBrowser/18.2.150419",
        6,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        6,
    ),
)

SPIDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        ("220.181.108", "116.179.32", "116.179.37"),
    ),
    (
        "Mozilla/5.0 (Linux;u;Android 4.2.2;zh-cn;) AppleWebKit/534.46 (KHTML,like Gecko) Version/5.1 "
        "Mobile Safari/10600.6.3 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        ("116.179.32",),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/50.0.2661.102 Safari/537.36; 360Spider",
        ("180.153.232", "42.236.10"),
    ),
    (
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        ("123.126.113", "36.110.147"),
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ("40.77.167", "207.46.13")),
    (
        "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/69.0.3497.81 YisouSpider/5.0 Safari/537.36",
        ("106.11.155", "42.120.160"),
    ),
)

# Gansu access networks: Telecom, Unicom, Mobile.
ISP_BLOCKS = ("118.180", "61.178", "125.74", "202.100", "60.164", "221.7", "223.104", "117.136", "36.142")
SEARCH_TERMS = (
    "社保查询",
    "公积金提取",
    "营业执照",
    "不动产登记",
    "户籍迁移",
    "医保报销",
    "事业单位招聘",
    "低保申请",
    "驾驶证换证",
    "政府信息公开",
    "养老保险",
    "义务教育招生",
    "居住证",
    "个体工商户",
)
RAW_PATHS = ("/zwgk/政策解读/", "/xxgk/通知公告/", "/bsfw/办事指南.html", "/搜索?q=公积金")

_PORTAL_SECTIONS = (
    "/xxgk/fdzdgknr/",
    "/xxgk/zfxxgknb/",
    "/zwgk/zcfg/gfxwj/",
    "/zwgk/zcjd/",
    "/zwgk/tzgg/",
    "/zwgk/rsxx/",
    "/ywdt/zwyw/",
    "/ywdt/bmdt/",
    "/ywdt/xqdt/",
    "/bsfw/grbs/",
    "/bsfw/frbs/",
    "/hdjl/ldxx/",
    "/zjxx/lsyg/",
)
_STATIC = (
    ("/static/css/common.css?v=20250312", 18_400),
    ("/static/css/index.css?v=20250312", 31_020),
    ("/static/js/jquery-1.12.4.min.js", 97_163),
    ("/static/js/common.js?v=3", 8_211),
    ("/static/images/logo.png", 24_510),
    ("/static/images/gh.png", 6_133),
    ("/static/images/banner_01.jpg", 184_230),
    ("/images/jiucuo.png", 3_262),
    ("/static/images/dzjg.png", 4_871),
    ("/static/fonts/iconfont.woff2", 12_480),
)
_APP_PAGES = {
    "zwfw": (
        "/zwfw/",
        "/zwfw/bszn/list?deptId=1102",
        "/zwfw/item/detail?itemCode=11620100MB1950476X4620114",
        "/zwfw/user/center",
        "/api/item/list?page=1&size=10",
        "/zwfw/hall/guide",
    ),
    "gjj": ("/gjj/", "/gjj/grzh/query", "/gjj/dk/jsq", "/gjj/tqsq/list", "/gjj/notice/list?page=2"),
    "oa": (
        "/oa/portal/index.do",
        "/oa/workflow/todoList.do?page=1",
        "/oa/doc/view.do?docId=20261104117",
        "/oa/mail/inbox.do",
        "/oa/notice/list.do",
    ),
    "bdc": (
        "/bdc/",
        "/bdc/cx/qszm",
        "/bdc/yy/appointment",
        "/bdc/api/progress?slbh=202611230045",
        "/bdc/guide/list",
    ),
    "rx": ("/rx/", "/rx/ts/query?code=GS2026112300318", "/rx/zsk/list", "/rx/ts/form"),
    "sb": ("/sb/", "/sb/grcx/jfmx", "/sb/ylbx/dy", "/sb/notice/list"),
    "jy": ("/jy/", "/jy/zkxx/list", "/jy/cjcx", "/jy/notice/list?type=2"),
    "yb": ("/yb/", "/yb/ddjg/list", "/yb/ybcx/zhye", "/yb/policy/list"),
}
_IIS_PAGES = (
    "/Default.aspx",
    "/GJJ/GrzhCx.aspx",
    "/GJJ/DkJsq.aspx",
    "/GJJ/TqYw.aspx",
    "/GJJ/Notice.aspx?id=318",
)
_IIS_STATIC = (
    ("/Content/site.css", 9_822),
    ("/Scripts/jquery-3.4.1.min.js", 88_145),
    ("/WebResource.axd?d=pynGkmcFUV13He1Qd6_TZE1&t=638345164516339018", 23_063),
    ("/Images/logo_gjj.png", 15_372),
)


def public_ip(rng: random.Random) -> str:
    """A Gansu broadband or mobile address, as most visitors of a prefecture portal have."""
    return f"{rng.choice(ISP_BLOCKS)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def ipv6_client(rng: random.Random) -> str:
    prefix = rng.choice(("240e:{:x}:{:x}", "2409:8a62:{:x}", "2408:8270:{:x}"))
    return (
        prefix.format(rng.randint(0x300, 0x3FF), rng.randint(0x1000, 0xFFFF))
        + f":{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    )


def article(rng: random.Random, section: str, day: date) -> str:
    """TRS-style article URL, the CMS most Chinese government portals run."""
    pub = day - timedelta(days=rng.choice((0, 1, 2, 3, 7, 14, 30, 90)))
    return f"{section}{pub:%Y%m}/t{pub:%Y%m%d}_{rng.randint(1_000_000, 9_999_999)}.html"


def _page(rng: random.Random, system: System, day: date) -> tuple[str, int]:
    if system.web == "iis":
        return rng.choice(_IIS_PAGES), rng.randint(9_000, 42_000)
    if system.kind != "portal":
        return rng.choice(_APP_PAGES[system.kind]), rng.randint(4_000, 36_000)
    roll = rng.random()
    if roll < 0.22:
        return rng.choice(("/", "/index.html", "/")), rng.randint(52_000, 68_000)
    if roll < 0.45:
        return rng.choice(_PORTAL_SECTIONS), rng.randint(21_000, 39_000)
    if roll < 0.55:
        kw = quote(rng.choice(SEARCH_TERMS))
        return f"/api/search?keyword={kw}&page={rng.choice((1, 1, 1, 2))}", rng.randint(1_800, 14_000)
    return article(rng, rng.choice(_PORTAL_SECTIONS), day), rng.randint(18_000, 46_000)


def _visit(rng: random.Random, system: System, day: date, out: list[Request]) -> None:
    """One human browsing session: 1-5 pages, each with a few cached or fetched assets."""
    t = pick_time(rng, day)
    internal = system.kind == "oa"
    if internal:
        client = f"10.{system.hosts[0].ip.split('.')[1]}.{rng.randint(100, 130)}.{rng.randint(2, 250)}"
    elif rng.random() < 0.04:
        client = ipv6_client(rng)
    else:
        client = public_ip(rng)
    ua = rng.choices([b[0] for b in BROWSERS], weights=[b[1] for b in BROWSERS])[0]
    xff = "-"
    if system.web == "nginx_xff" and rng.random() < 0.18:
        if rng.random() < 0.5:
            xff = f"10.{rng.randint(40, 60)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        else:
            xff = f"192.168.{rng.randint(0, 20)}.{rng.randint(2, 250)}, 10.0.0.1"
    scheme = "https"
    referer = rng.choice(
        (
            "-",
            "-",
            f"https://www.baidu.com/link?url={rng.getrandbits(60):x}",
            "https://www.gansu.gov.cn/",
            f"https://www.so.com/link?m={rng.getrandbits(48):x}",
        )
    )
    returning = rng.random() < 0.4
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 5))):
        path, size = _page(rng, system, day)
        status = 200
        if rng.random() < 0.015:
            status, size = 404, 4_296
        elif path.endswith("/") and len(path) > 1 and rng.random() < 0.05:
            status, size, path = 301, 169, path.rstrip("/")
        out.append(
            Request(t, client, "GET", path, status, size, ua, referer, xff=xff, millis=rng.randint(8, 240))
        )
        page_url = f"{scheme}://{system.domain}{path}"
        statics = _IIS_STATIC if system.web == "iis" else _STATIC
        if system.kind != "portal" and system.web != "iis":
            statics = _STATIC[:4]
        for asset, asize in rng.sample(statics, rng.choice((0, 1, 2, 3))):
            st, sz = (304, 0) if returning and rng.random() < 0.8 else (200, asize)
            out.append(
                Request(
                    t + timedelta(seconds=rng.uniform(0.05, 1.5)),
                    client,
                    "GET",
                    asset,
                    st,
                    sz,
                    ua,
                    page_url,
                    xff=xff,
                    millis=rng.randint(1, 60),
                )
            )
        referer = page_url
        t += timedelta(seconds=rng.expovariate(1 / 40))


def _login(rng: random.Random, system: System, day: date, out: list[Request]) -> None:
    """Citizens and staff logging in to a business system; uploads too, so uploads alone are not odd."""
    t = pick_time(rng, day)
    client = (
        public_ip(rng)
        if system.kind != "oa"
        else f"10.{system.hosts[0].ip.split('.')[1]}.110.{rng.randint(2, 250)}"
    )
    ua = rng.choices([b[0] for b in BROWSERS], weights=[b[1] for b in BROWSERS])[0]
    base = "/oa/login.do" if system.kind == "oa" else "/login"
    out.append(Request(t, client, "GET", base, 200, rng.randint(5_000, 7_000), ua, "-"))
    ok = rng.random() > 0.12
    t2 = t + timedelta(seconds=rng.uniform(6, 30))
    out.append(
        Request(
            t2,
            client,
            "POST",
            base,
            302 if ok else 200,
            0 if ok else 5_911,
            ua,
            f"https://{system.domain}{base}",
            millis=rng.randint(40, 400),
        )
    )
    if ok and system.kind == "zwfw" and rng.random() < 0.5:
        out.append(
            Request(
                t2 + timedelta(seconds=rng.uniform(30, 200)),
                client,
                "POST",
                "/zwfw/upload/attachment.do",
                200,
                rng.randint(60, 90),
                ua,
                f"https://{system.domain}/zwfw/user/center",
                millis=rng.randint(200, 1500),
            )
        )


def _admin(rng: random.Random, site: Site, system: System, day: date, out: list[Request]) -> None:
    """CMS editors publishing from the management range during office hours."""
    t = pick_time(rng, day)
    client = f"10.{site.index}.250.{rng.choice((21, 22, 35))}"
    ua = BROWSERS[0][0]
    ref = f"https://{system.domain}/admin/"
    for path, method, status, size in (
        ("/admin/login", "GET", 200, 3_812),
        ("/admin/login", "POST", 302, 0),
        ("/admin/index", "GET", 200, 14_220),
        ("/admin/content/list?channelId=12&page=1", "GET", 200, 28_933),
        ("/admin/content/save", "POST", 200, 61),
    ):
        out.append(Request(t, client, method, path, status, size, ua, ref, millis=rng.randint(20, 300)))
        t += timedelta(seconds=rng.uniform(3, 90))


def _spider(rng: random.Random, system: System, day: date, out: list[Request]) -> None:
    ua, blocks = rng.choice(SPIDERS)
    t = pick_time(rng, day, FLAT_WEIGHTS)
    client = f"{rng.choice(blocks)}.{rng.randint(1, 254)}"
    if rng.random() < 0.1:
        path, size = rng.choice((("/robots.txt", 214), ("/sitemap.xml", 48_210)))
    else:
        path, size = _page(rng, system, day)
    status = 200 if rng.random() > 0.06 else 404
    out.append(Request(t, client, "GET", path, status, size if status == 200 else 4_296, ua, "-"))


def _oddities(rng: random.Random, system: System, day: date, out: list[Request]) -> None:
    """What every real server log holds: TLS spoken to port 80, raw UTF-8 URLs, HEAD checks."""
    for _ in range(rng.randint(1, 3)):
        junk = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])
        junk += bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 30)))
        out.append(
            Request(
                pick_time(rng, day, FLAT_WEIGHTS),
                public_ip(rng),
                "",
                "",
                400,
                157,
                raw_request=junk.decode("latin-1"),
            )
        )
    if system.kind == "portal":
        for _ in range(rng.randint(1, 3)):
            out.append(
                Request(
                    pick_time(rng, day),
                    public_ip(rng),
                    "GET",
                    rng.choice(RAW_PATHS),
                    404,
                    4_296,
                    rng.choice(BROWSERS)[0],
                    "-",
                )
            )
    for hour in (6, 14, 22):
        out.append(
            Request(
                pick_time(rng, day, tuple(int(h == hour) for h in range(24))),
                f"10.{system.hosts[0].ip.split('.')[1]}.250.5",
                "HEAD",
                "/",
                200,
                0,
                "Zabbix",
                "-",
                millis=3,
            )
        )


def normal_requests(site: Site, system: System, day: date, rng: random.Random, scale: float) -> list[Request]:
    """One day of ordinary traffic for one website."""
    out: list[Request] = []
    portal = system.kind == "portal"
    visits = (30 if portal else 10) * (1.6 if site.abbr == "lz" else 1) * scale
    for _ in range(round(visits * rng.uniform(0.85, 1.15))):
        _visit(rng, system, day, out)
    if not portal:
        for _ in range(round(9 * scale)):
            _login(rng, system, day, out)
    for _ in range(round((15 if portal else 3) * scale)):
        _spider(rng, system, day, out)
    if portal:
        for _ in range(rng.randint(1, 2)):
            _admin(rng, site, system, day, out)
    _oddities(rng, system, day, out)
    return out
