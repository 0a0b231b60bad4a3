"""The inventory document: which systems exist, at which level, on which hosts, logging where.

The compliance stage reads it as an interface, so the `systems` keys follow the agreed shape and
anything else (firewalls, sensors, web server and OS) sits beside them as extra keys.
"""

from __future__ import annotations

import yaml

from secaware.samples.topology import Site

_WEB = {
    "nginx": "nginx",
    "nginx_xff": "nginx",
    "apache": "Apache httpd",
    "apache_common": "Apache httpd",
    "iis": "IIS 10.0",
}
_OS = {
    "ubuntu24": "Ubuntu 24.04",
    "ubuntu22": "Ubuntu 22.04",
    "debian12": "Debian 12",
    "centos7": "CentOS 7",
    "kylin10": "Kylin V10",
    "windows": "Windows Server 2019",
}
_FW = {"huawei-usg": "Huawei USG", "h3c": "H3C SecPath", "hillstone": "Hillstone", "sangfor": "Sangfor NGAF"}


def inventory_yaml(sites: tuple[Site, ...]) -> str:
    """Render the inventory as YAML text (UTF-8, Chinese names unescaped)."""
    systems = []
    for site in sites:
        for sy in site.systems:
            hosts: list[str] = [h.ip for h in sy.hosts] + [sy.subnet] + [h.name for h in sy.hosts]
            hosts += [sy.domain, sy.public_ip]
            systems.append(
                {
                    "id": sy.id,
                    "name": sy.name,
                    "prefecture": sy.prefecture,
                    "level": sy.level,
                    "logs": [f"{site.dirname}/{sy.id}/**"],
                    "hosts": hosts,
                    "management": [site.management],
                    "scanners": list(site.scanners),
                    "online_since": sy.online_since,
                    "domain": sy.domain,
                    "web_server": _WEB[sy.web],
                    "os": _OS[sy.os],
                }
            )
    firewalls = [
        {
            "prefecture": s.code,
            "vendor": _FW[s.fw_vendor],
            "device": s.fw_device,
            "encoding": "GBK" if s.fw_vendor == "sangfor" else "UTF-8",
            "logs": [s.fw_file],
        }
        for s in sites
    ]
    sensors = [
        {
            "id": "province-suricata",
            "kind": "Suricata EVE",
            "location": "provincial internet egress",
            "logs": ["province/suricata/**"],
        }
    ]
    doc = {"systems": systems, "firewalls": firewalls, "sensors": sensors}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=None, width=200)
