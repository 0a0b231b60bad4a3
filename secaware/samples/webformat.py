"""Render requests the way nginx, Apache httpd and IIS write them, escaping rules included.

The escaping differs per server and is exactly what breaks naive parsers: nginx writes bytes
>= 0x7F as upper-case `\\xHH`, httpd as lower-case `\\xhh`, IIS swaps spaces for `+` in fields.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from secaware.samples.clock import utc
from secaware.samples.model import Request


def _escape(text: str, upper: bool) -> str:
    raw = (
        text.encode("latin-1")
        if all(ord(c) < 256 for c in text) and any(0x7F <= ord(c) < 256 for c in text)
        else text.encode("utf-8")
    )
    out = []
    for b in raw:
        if b < 0x20 or b >= 0x7F or b in (0x22, 0x5C):
            out.append(f"\\x{b:02X}" if upper else f"\\x{b:02x}")
        else:
            out.append(chr(b))
    return "".join(out)


def _clf_time(ts: datetime) -> str:
    return ts.strftime("%d/%b/%Y:%H:%M:%S %z")


def _request_line(req: Request, upper: bool) -> str:
    if req.raw_request is not None:
        return _escape(req.raw_request, upper)
    return _escape(f"{req.method} {req.target} {req.proto}", upper)


def format_request(req: Request, style: str, server_ip: str = "-") -> str:
    """One access-log line for `style` in nginx, nginx_xff, apache, apache_common or iis."""
    if style == "iis":
        return _iis(req, server_ip)
    upper = style.startswith("nginx")
    size = str(req.size)
    if not upper and req.size == 0:
        size = "-"
    head = (
        f'{req.client} - {req.user} [{_clf_time(req.ts)}] "{_request_line(req, upper)}" {req.status} {size}'
    )
    if style == "apache_common":
        return head
    line = f'{head} "{_escape(req.referer, upper)}" "{_escape(req.ua, upper)}"'
    if style == "nginx_xff":
        line += f' "{req.xff}"'
    return line


IIS_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)


def iis_header(opened: datetime) -> list[str]:
    """The directive block IIS writes when it opens a log file (and again after a restart)."""
    return [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        f"#Date: {utc(opened):%Y-%m-%d %H:%M:%S}",
        f"#Fields: {IIS_FIELDS}",
    ]


def iis_filename(day: date) -> str:
    return f"u_ex{day:%y%m%d}.log"


def _iis(req: Request, server_ip: str) -> str:
    stem, _, query = req.target.partition("?")
    t = utc(req.ts + timedelta(milliseconds=req.millis))
    ua = req.ua.replace(" ", "+") if req.ua else "-"
    ref = req.referer.replace(" ", "+")
    win32 = 64 if req.status == 400 else 0
    return (
        f"{t:%Y-%m-%d %H:%M:%S} {server_ip} {req.method} {stem} {query or '-'} 443 "
        f"{req.user} {req.client} {ua} {ref} {req.status} 0 {win32} {req.millis}"
    )
