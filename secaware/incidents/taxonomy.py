"""What an incident is, in the terms responders report in: ATT&CK stage, GB/T 20986-2023 category, grade.

Data, not logic, so a correction is an edit to a table. The category of an incident comes from
the most specific technique its alerts carry, in the order of TECHNIQUE_CATEGORY, falling back to
the tactic; the names follow GB/T 20986-2023 (网络安全事件分类分级指南), its ten categories and
their subcategories as we read them.
"""

from __future__ import annotations

#: ATT&CK tactics in kill-chain order: the furthest one an incident reached is its stage.
TACTICS: tuple[tuple[str, str, str], ...] = (
    ("reconnaissance", "侦察", "Reconnaissance"),
    ("resource-development", "资源开发", "Resource development"),
    ("initial-access", "初始访问", "Initial access"),
    ("execution", "执行", "Execution"),
    ("persistence", "持久化", "Persistence"),
    ("privilege-escalation", "权限提升", "Privilege escalation"),
    ("defense-evasion", "防御规避", "Defense evasion"),
    ("credential-access", "凭据访问", "Credential access"),
    ("discovery", "发现", "Discovery"),
    ("lateral-movement", "横向移动", "Lateral movement"),
    ("collection", "收集", "Collection"),
    ("command-and-control", "命令与控制", "Command and control"),
    ("exfiltration", "数据渗出", "Exfiltration"),
    ("impact", "影响", "Impact"),
)
TACTIC_ORDER = {name: i for i, (name, _, _) in enumerate(TACTICS)}

#: (tag prefix, category, subcategory): the first prefix any alert tag starts with decides.
TECHNIQUE_CATEGORY: tuple[tuple[str, str, str], ...] = (
    ("attack.t1048", "数据安全事件", "数据泄露事件"),
    ("attack.t1041", "数据安全事件", "数据泄露事件"),
    ("attack.t1567", "数据安全事件", "数据泄露事件"),
    ("attack.t1005", "数据安全事件", "数据窃取事件"),
    ("attack.t1530", "数据安全事件", "数据窃取事件"),
    ("attack.t1486", "恶意程序事件", "勒索病毒事件"),
    ("attack.t1496", "恶意程序事件", "挖矿病毒事件"),
    ("attack.t1505.003", "网络攻击事件", "后门利用事件"),
    ("attack.t1505", "网络攻击事件", "后门利用事件"),
    ("attack.t1491", "网络攻击事件", "网页篡改事件"),
    ("attack.t1498", "网络攻击事件", "拒绝服务攻击事件"),
    ("attack.t1499", "网络攻击事件", "拒绝服务攻击事件"),
    ("attack.t1110", "网络攻击事件", "口令暴力破解事件"),
    ("attack.t1190", "网络攻击事件", "漏洞利用事件"),
    ("attack.t1203", "网络攻击事件", "漏洞利用事件"),
    ("attack.t1059", "网络攻击事件", "漏洞利用事件"),
    ("attack.t1566", "网络攻击事件", "网络钓鱼事件"),
    ("attack.t1595", "网络攻击事件", "网络扫描探测事件"),
    ("attack.t1046", "网络攻击事件", "网络扫描探测事件"),
    ("attack.t1018", "网络攻击事件", "网络扫描探测事件"),
    ("attack.t1083", "网络攻击事件", "网络扫描探测事件"),
    ("attack.t1592", "网络攻击事件", "网络扫描探测事件"),
    ("attack.t1021", "违规操作事件", "违规访问事件"),
    ("attack.t1078", "违规操作事件", "违规访问事件"),
)
TACTIC_CATEGORY: dict[str, tuple[str, str]] = {
    "reconnaissance": ("网络攻击事件", "网络扫描探测事件"),
    "discovery": ("网络攻击事件", "网络扫描探测事件"),
    "initial-access": ("网络攻击事件", "漏洞利用事件"),
    "execution": ("网络攻击事件", "漏洞利用事件"),
    "persistence": ("网络攻击事件", "后门利用事件"),
    "credential-access": ("网络攻击事件", "口令暴力破解事件"),
    "exfiltration": ("数据安全事件", "数据泄露事件"),
    "collection": ("数据安全事件", "数据窃取事件"),
    "impact": ("网络攻击事件", "其他网络攻击事件"),
}
DEFAULT_CATEGORY = ("网络攻击事件", "其他网络攻击事件")
ANOMALY_CATEGORY = ("异常行为事件", "异常访问行为事件")

#: National incident grades (国家网络安全事件应急预案), most severe first, and the undetermined one.
GRADES = ("特别重大", "重大", "较大", "一般")
UNDETERMINED = "待研判"

LEVEL_RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
SEVERITIES = ("low", "medium", "high", "critical")


def category(tags: list[str], tactics: list[str], anomaly_only: bool) -> tuple[str, str]:
    """(category, subcategory) for the tags of an incident's alerts."""
    if anomaly_only:
        return ANOMALY_CATEGORY
    for prefix, cat, sub in TECHNIQUE_CATEGORY:
        if any(t == prefix or t.startswith(prefix + ".") for t in tags):
            return cat, sub
    for tactic in sorted(tactics, key=lambda t: -TACTIC_ORDER.get(t, -1)):
        if tactic in TACTIC_CATEGORY:
            return TACTIC_CATEGORY[tactic]
    return DEFAULT_CATEGORY


def stage(tactics: list[str]) -> str | None:
    """The furthest ATT&CK tactic reached."""
    known = [t for t in tactics if t in TACTIC_ORDER]
    return max(known, key=TACTIC_ORDER.__getitem__) if known else None
