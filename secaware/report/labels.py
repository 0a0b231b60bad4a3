"""Report wording in Chinese (default) and English, with the graded-protection terms as used in China."""

from __future__ import annotations

from typing import Any

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("甘肃省网络安全态势感知报告", "Gansu Province Network Security Situational Awareness Report"),
    "province": ("全省概况", "Province at a glance"),
    "period": ("报告期", "Period"),
    "generated": ("生成时间", "Generated"),
    "coverage": ("数据覆盖", "Data coverage"),
    "systems_logged": ("有日志的系统 / 应有", "Systems that logged / expected"),
    "hosts_logged": ("有日志的主机 / 应有", "Hosts that logged / expected"),
    "events": ("事件", "Events"),
    "rejects": ("无法解析的行", "Rejected lines"),
    "incidents": ("安全事件", "Incidents"),
    "alerts": ("告警", "Alerts"),
    "anomalies": ("异常", "Anomalies"),
    "by_grade": ("按级别", "By grade"),
    "by_severity": ("按严重程度", "By severity"),
    "trend": ("事件趋势(按日)", "Incidents per day"),
    "prefectures": ("14个市州对比", "The 14 prefectures side by side"),
    "prefecture": ("市州", "Prefecture"),
    "open_high": ("未处置高危事件", "Open high-severity"),
    "noncompliant": ("不符合项", "Non-compliant items"),
    "attention": ("关注度", "Needs attention"),
    "top_attacks": ("主要攻击类型", "Top attack types"),
    "top_sources": ("主要外部攻击源", "Top external sources"),
    "top_systems": ("受攻击最多的系统", "Most targeted systems"),
    "systems": ("信息系统", "Systems"),
    "system": ("系统", "System"),
    "level": ("等级", "Level"),
    "compliance": ("等级保护合规(日志证据)", "Graded protection (log evidence)"),
    "clause": ("条款", "Clause"),
    "item": ("要求项", "Requirement"),
    "verdict": ("结论", "Verdict"),
    "evidence": ("证据", "Evidence"),
    "to_verify": ("需人工核查", "For a person to verify"),
    "high_risk": ("高风险", "High risk"),
    "severity": ("严重程度", "Severity"),
    "grade": ("事件级别", "Grade"),
    "category": ("事件分类(GB/T 20986-2023)", "Category (GB/T 20986-2023)"),
    "stage": ("攻击阶段", "Attack stage"),
    "actor": ("攻击源", "Source"),
    "target": ("目标", "Target"),
    "first_last": ("首次 / 最后", "First / last"),
    "status": ("状态", "Status"),
    "success": ("成功迹象", "Signs of success"),
    "timeline": ("时间线", "Timeline"),
    "raw_lines": ("原始日志", "Raw log lines"),
    "next_steps": ("处置建议", "What to do next"),
    "notes": ("处置记录", "Responder notes"),
    "appendix": ("附录:规则、模型与数据", "Appendix: rules, models and data"),
    "rules_used": ("使用的检测规则", "Detection rules used"),
    "models_used": ("异常检测模型", "Anomaly models"),
    "data_read": ("读取的数据", "Data read"),
    "reject_reasons": ("拒绝原因", "Why lines were rejected"),
    "missing": ("缺失", "Missing"),
    "not_run": ("尚未运行,本报告不含此部分", "not run yet; this report does not include it"),
    "none": ("无", "None"),
    "more": ("其余 {n} 条未列出", "{n} more not listed"),
    "cut": ("已截断", "cut"),
    "count": ("数量", "Count"),
    "rule": ("规则", "Rule"),
    "file_line": ("文件:行", "File:line"),
    "back": ("返回全省概况", "Back to the province"),
    "pii_note": ("报告中的身份证号、手机号和银行卡号已脱敏。", "Resident ID, mobile and bank card numbers are masked."),
    "no_model": ("尚无训练好的模型:异常分数基于本期数据自身的基线", "No trained model: anomaly scores use a baseline "
                 "fitted on this period's own data"),
    "compliance_note": ("日志只能证明不符合,或在配置核查后支持符合;本报告从不仅凭日志判定“符合”。",
                        "Logs can show non-compliance or support compliance pending a configuration check; this "
                        "report never declares compliance from logs alone."),
}

SEVERITY = {"critical": ("严重", "Critical"), "high": ("高危", "High"), "medium": ("中危", "Medium"),
            "low": ("低危", "Low"), "informational": ("信息", "Info")}
STATUS = {"new": ("新", "new"), "updated": ("有更新", "updated"), "seen": ("已知", "seen"),
          "investigating": ("处置中", "investigating"), "closed": ("已关闭", "closed"),
          "false_positive": ("误报", "false positive")}
GRADE_EN = {"特别重大": "Extraordinarily serious", "重大": "Serious", "较大": "Relatively serious",
            "一般": "General", "待研判": "To be assessed"}
VERDICT_EN = {"不符合": "Non-compliant", "部分符合": "Partly compliant (verify)", "证据不足": "Insufficient evidence",
              "不适用": "Not applicable"}

NEXT_STEPS: dict[str, tuple[str, str]] = {
    "漏洞利用事件": ("核查被攻击URL对应程序是否存在该漏洞并修补;检查响应异常的请求是否泄露数据;在WAF上封禁攻击源。",
                 "Check whether the attacked program has the flaw and patch it; check whether the answered requests "
                 "leaked data; block the source at the WAF."),
    "后门利用事件": ("立即下线并保全可疑文件,排查上传入口,全盘查找其他后门,重置相关账号口令。",
                 "Take the suspicious file offline and preserve it, find the upload path, search for other "
                 "backdoors, reset related passwords."),
    "口令暴力破解事件": ("核查成功登录是否为本人操作;启用登录失败锁定;限制管理端口来源;重置受影响账号口令。",
                   "Confirm whether the successful login was legitimate; enable lockout after failures; restrict "
                   "management ports to management ranges; reset affected passwords."),
    "网络扫描探测事件": ("确认来源是否为授权扫描器;对未授权来源在边界封禁;核查暴露的端口与服务。",
                   "Confirm whether the source is an authorized scanner; block unauthorized sources at the border; "
                   "review exposed ports and services."),
    "拒绝服务攻击事件": ("评估业务可用性影响;启用限速或清洗;联系运营商。", "Assess availability impact; enable rate "
                                                                        "limiting or scrubbing; contact the carrier."),
    "数据泄露事件": ("确认外传数据内容与范围,阻断外联,按规定报告。", "Establish what data left and how much, block the "
                                                        "connection, report as required."),
}
DEFAULT_NEXT = ("核查相关主机与日志,确认影响范围,必要时上报。",
                "Review the hosts and logs involved, establish the impact, report if required.")


class Labels:
    """`t.key` or `t("key")` gives the wording in the report's language."""

    def __init__(self, lang: str) -> None:
        if lang not in ("zh", "en"):
            raise ValueError(f"language {lang!r}: use zh or en")
        self.lang = lang
        self._i = 0 if lang == "zh" else 1

    def __call__(self, key: str, **kw: Any) -> str:
        return _LABELS[key][self._i].format(**kw)

    def __getattr__(self, key: str) -> str:
        if key.startswith("_") or key not in _LABELS:
            raise AttributeError(key)
        return _LABELS[key][self._i]

    def severity_name(self, value: str | None) -> str:
        return SEVERITY.get(value or "", (value or "-", value or "-"))[self._i]

    def grade_name(self, value: str | None) -> str:
        return (value or "-") if self._i == 0 else GRADE_EN.get(value or "", value or "-")

    def verdict_name(self, value: str | None) -> str:
        return (value or "-") if self._i == 0 else VERDICT_EN.get(value or "", value or "-")

    def status_name(self, value: str | None) -> str:
        return STATUS.get(value or "", (value or "-", value or "-"))[self._i]

    def advice(self, subcategory: str | None) -> str:
        return NEXT_STEPS.get(subcategory or "", DEFAULT_NEXT)[self._i]

    def prefecture_name(self, code: str | None) -> str:
        from secaware.prefectures import BY_CODE

        p = BY_CODE.get(code or "")
        if p is None:
            return code or "-"
        return p.name if self._i == 0 else p.name_en
