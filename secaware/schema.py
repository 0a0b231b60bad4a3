"""The one place that names every stored column, its type and what it means elsewhere.

Other stages, SQL users and outside tools (Spark, Trino, DuckDB) rely on these names, so they are
an interface: add columns, never rename. Each column records its Elastic Common Schema field and
the Sigma taxonomy names that map onto it, so the detection pipelines and the docs come from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

#: Table names in the store: the only way stages refer to each other's output.
EVENTS = "events"
REJECTS = "rejects"
INGEST_LOG = "ingest_log"
ALERTS = "alerts"
INCIDENTS = "incidents"
ANOMALIES = "anomalies"
COMPLIANCE = "compliance"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    doc: str
    ecs: str | None = None
    sigma: tuple[str, ...] = field(default_factory=tuple)


def _c(name: str, dtype: pl.DataType, doc: str, ecs: str | None = None, *sigma: str) -> Column:
    return Column(name, dtype, doc, ecs, tuple(sigma))


EVENT_COLUMNS: tuple[Column, ...] = (
    _c("event_id", pl.Int64(), "Unique id of the event in this store (batch_id * 2**24 + row).", "event.id"),
    _c("ts", UTC_TS, "When it happened, in UTC. Zone-less sources are read in the configured zone.",
       "@timestamp", "date", "time", "timestamp"),
    _c("source", pl.String(), "Format that produced the event: combined, common, iis, syslog, sshd, auth, "
       "iptables, huawei_usg, h3c, hillstone, sangfor, suricata.", "event.module"),
    _c("prefecture", pl.String(), "GB/T 2260 code of the prefecture the log came from.", "organization.id"),
    _c("host", pl.String(), "Host that wrote the log line (syslog hostname, IIS server name).",
       "host.name", "hostname", "s-computername", "dvchost"),
    _c("program", pl.String(), "Syslog application name (sshd, kernel, su...).", "process.name",
       "appname", "program"),
    _c("pid", pl.Int64(), "Process id from the syslog tag.", "process.pid", "pid"),
    _c("event_category", pl.String(), "web, authentication, network, intrusion_detection, dns or host.",
       "event.category"),
    _c("event_action", pl.String(), "What happened in the source's own terms (failed_password, "
       "session_teardown, deny...).", "event.action", "event_type", "EventType"),
    _c("outcome", pl.String(), "success or failure where the source says (logins; HTTP status < 400).",
       "event.outcome", "outcome"),
    _c("src_ip", pl.String(), "Connecting address as logged (never taken from X-Forwarded-For); IPv6 in "
       "its compressed form, an IPv4-mapped one (::ffff:10.1.2.3) as the IPv4 address.",
       "source.ip", "c-ip", "src_ip", "SourceIP", "clientip"),
    _c("src_port", pl.Int32(), "Source port.", "source.port", "c-port", "src_port", "SourcePort"),
    _c("dst_ip", pl.String(), "Destination or server address.", "destination.ip", "s-ip", "dst_ip",
       "DestinationIp"),
    _c("dst_port", pl.Int32(), "Destination or server port.", "destination.port", "s-port", "dst_port",
       "DestinationPort"),
    _c("user", pl.String(), "Account name (HTTP auth user, login account).", "user.name",
       "cs-username", "user", "username", "User"),
    _c("http_method", pl.String(), "HTTP request method.", "http.request.method", "cs-method", "method"),
    _c("url_path", pl.String(), "Request path as logged (percent-encoding and \\xHH escapes kept).",
       "url.path", "cs-uri-stem", "uri_path"),
    _c("url_query", pl.String(), "Query string without '?', as logged (percent-encoding kept).",
       "url.query", "cs-uri-query", "uri_query"),
    _c("http_version", pl.String(), "Protocol of the request line (HTTP/1.1...).", "http.version",
       "cs-version"),
    _c("http_status", pl.Int16(), "HTTP response status.", "http.response.status_code", "sc-status",
       "status"),
    _c("bytes", pl.Int64(), "Bytes sent to the client (HTTP body size, or session total for flows).",
       "http.response.body.bytes", "sc-bytes", "bytes"),
    _c("user_agent", pl.String(), "User-Agent header as logged.", "user_agent.original",
       "cs-user-agent", "c-useragent", "useragent"),
    _c("referer", pl.String(), "Referer header as logged.", "http.request.referrer", "cs-referer",
       "referrer"),
    _c("forwarded_for", pl.String(), "X-Forwarded-For chain as logged (proxies append; not trusted).",
       "http.request.headers.x_forwarded_for", "x-forwarded-for"),
    _c("url_domain", pl.String(), "Virtual host / Host header when the log has it.", "url.domain",
       "cs-host"),
    _c("http_request", pl.String(), "The request line exactly as logged (also when it is binary junk).",
       "url.original", "request", "cs-uri"),
    _c("duration_ms", pl.Int64(), "Duration in milliseconds (IIS time-taken, firewall session length).",
       "event.duration", "time-taken"),
    _c("auth_method", pl.String(), "Login method: password, publickey, keyboard-interactive...",
       "user.authentication.method"),
    _c("invalid_user", pl.Boolean(), "The login named an account that does not exist.", None),
    _c("protocol", pl.String(), "Transport protocol, lower case (tcp, udp, icmp).", "network.transport",
       "protocol", "proto"),
    _c("action", pl.String(), "Firewall or IDS decision: allow, deny, drop, reject, alert.",
       "event.action", "action"),
    _c("policy", pl.String(), "Firewall policy or rule name that decided.", "rule.name", "policy"),
    _c("interface_in", pl.String(), "Ingress interface.", "observer.ingress.interface.name"),
    _c("interface_out", pl.String(), "Egress interface.", "observer.egress.interface.name"),
    _c("nat_src_ip", pl.String(), "Source address after NAT.", "source.nat.ip"),
    _c("nat_src_port", pl.Int32(), "Source port after NAT.", "source.nat.port"),
    _c("nat_dst_ip", pl.String(), "Destination address after NAT.", "destination.nat.ip"),
    _c("nat_dst_port", pl.Int32(), "Destination port after NAT.", "destination.nat.port"),
    _c("app", pl.String(), "Application the device identified (http, ssh, DNS...).", "network.protocol",
       "application"),
    _c("src_bytes", pl.Int64(), "Bytes sent by the source in the session.", "source.bytes"),
    _c("dst_bytes", pl.Int64(), "Bytes sent by the destination in the session.", "destination.bytes"),
    _c("src_packets", pl.Int64(), "Packets sent by the source.", "source.packets"),
    _c("dst_packets", pl.Int64(), "Packets sent by the destination.", "destination.packets"),
    _c("signature", pl.String(), "IDS signature text.", "rule.name", "signature"),
    _c("signature_id", pl.Int64(), "IDS signature id.", "rule.id", "sid"),
    _c("alert_category", pl.String(), "IDS alert category.", "rule.category"),
    _c("alert_severity", pl.Int8(), "IDS severity (1 high .. 4 low, Suricata's scale).", "event.severity"),
    _c("flow_id", pl.Int64(), "IDS flow id linking alert, http and flow records.", "network.community_id"),
    _c("syslog_facility", pl.Int8(), "Syslog facility from <PRI>.", "log.syslog.facility.code"),
    _c("syslog_severity", pl.Int8(), "Syslog severity from <PRI> or the device's level.",
       "log.syslog.severity.code"),
    _c("message", pl.String(), "Message text (syslog message, or a readable summary).", "message"),
    _c("raw", pl.String(), "The whole line as read (decoded), for matching and for the responder.",
       "event.original"),
    _c("file", pl.String(), "Absolute path of the file the line was read from.", "log.file.path"),
    _c("line_no", pl.Int64(), "1-based physical line number in that file.", "log.offset"),
    _c("batch_id", pl.Int64(), "Ingest batch that wrote the row (see ingest_log).", None),
    _c("parse_warning", pl.String(), "Why this event may be imperfect (e.g. invalid bytes shown as \\xHH).",
       None),
)

REJECT_COLUMNS: tuple[Column, ...] = (
    _c("file", pl.String(), "Absolute path of the file.", "log.file.path"),
    _c("line_no", pl.Int64(), "1-based physical line number.", "log.offset"),
    _c("raw", pl.String(), "The line as read (decoded; invalid bytes as \\xHH).", "event.original"),
    _c("reason", pl.String(), "Why the line did not become an event.", "error.message"),
    _c("format", pl.String(), "Format the file was read as.", None),
    _c("prefecture", pl.String(), "GB/T 2260 code of the prefecture the log came from.", None),
    _c("batch_id", pl.Int64(), "Ingest batch that wrote the row.", None),
)

INGEST_LOG_COLUMNS: tuple[Column, ...] = (
    _c("batch_id", pl.Int64(), "Batch that committed this segment.", None),
    _c("file", pl.String(), "Absolute path read.", None),
    _c("fingerprint", pl.String(), "sha256 of the first fp_len decompressed bytes: the file's identity, "
       "which survives rotation and renaming.", None),
    _c("fp_len", pl.Int64(), "Bytes hashed for the fingerprint.", None),
    _c("start_offset", pl.Int64(), "Decompressed byte offset where this segment began.", None),
    _c("end_offset", pl.Int64(), "Decompressed byte offset after the last line consumed.", None),
    _c("start_line", pl.Int64(), "Line number of the first line of this segment.", None),
    _c("end_line", pl.Int64(), "Line number of the last line consumed (0 if none yet).", None),
    _c("lines", pl.Int64(), "Physical lines read in this segment.", None),
    _c("events", pl.Int64(), "Lines that became events.", None),
    _c("rejects", pl.Int64(), "Lines that became rejects.", None),
    _c("skipped", pl.Int64(), "Blank lines and format comments (IIS #directives).", None),
    _c("format", pl.String(), "Format the file was read as.", None),
    _c("encoding", pl.String(), "Text encoding detected for the file (utf-8, gb18030).", None),
    _c("prefecture", pl.String(), "Prefecture code applied to the events.", None),
    _c("size", pl.Int64(), "File size on disk when read.", None),
    _c("mtime_ns", pl.Int64(), "File modification time when read (ns since epoch).", None),
    _c("complete", pl.Boolean(), "The file was compressed and read to its end: it will not grow.", None),
    _c("state", pl.String(), "JSON parser state at end_offset (IIS fields, syslog year...).", None),
    _c("ingested_at", UTC_TS, "When the batch was committed.", None),
)

ALERT_COLUMNS: tuple[Column, ...] = (
    _c("alert_id", pl.String(), "Stable id: the same rule on the same event (or the same correlation episode) "
       "always gets the same id, so reruns update rather than duplicate.", "event.id"),
    _c("ts", UTC_TS, "When it happened: the event's time, or when a correlation's condition was first met.",
       "@timestamp"),
    _c("rule_id", pl.String(), "Sigma rule id.", "rule.uuid"),
    _c("rule_title", pl.String(), "Sigma rule title.", "rule.name"),
    _c("level", pl.String(), "Sigma level: informational, low, medium, high, critical.", "event.severity"),
    _c("tags", pl.List(pl.String()), "Rule tags: ATT&CK (attack.t1190), graded protection clauses "
       "(mlps.8.1.3.3) and others.", "tags"),
    _c("src_ip", pl.String(), "Source address of the event (or of the correlation group).", "source.ip"),
    _c("dst_ip", pl.String(), "Destination address.", "destination.ip"),
    _c("host", pl.String(), "Host that logged the event.", "host.name"),
    _c("user", pl.String(), "Account involved.", "user.name"),
    _c("prefecture", pl.String(), "GB/T 2260 code of the prefecture.", "organization.id"),
    _c("source", pl.String(), "Format of the event (combined, sshd, huawei_usg...).", "event.module"),
    _c("file", pl.String(), "File of the event (for correlations: of the event that met the condition).",
       "log.file.path"),
    _c("line_no", pl.Int64(), "Line of the event in that file.", "log.offset"),
    _c("event_id", pl.Int64(), "The event in the events table (for correlations: the one that met the "
       "condition).", None),
    _c("kind", pl.String(), "event (one event matched a rule) or correlation (a correlation rule's condition "
       "held over a window).", "event.kind"),
    _c("group_key", pl.String(), "Correlation group, e.g. 'src_net=2001:db8:1:2::/64' or 'user=root, host=oa-01'; "
       "',' and '\\' inside a value are escaped with '\\'.", None),
    _c("count", pl.Int64(), "Events in the alert: 1, or the correlation episode's matching events.", None),
    _c("value", pl.Float64(), "Correlation peak value in one window: events, distinct values, sum or average.",
       None),
    _c("first_ts", UTC_TS, "First event of the alert.", "event.start"),
    _c("last_ts", UTC_TS, "Last event of the alert.", "event.end"),
    _c("suppressed", pl.Boolean(), "The source is allowlisted (an authorized scanner): kept as evidence of "
       "the scan, never opens an incident.", None),
    _c("suppressed_by", pl.String(), "Which allowlist entry matched.", None),
    _c("batch_id", pl.Int64(), "Ingest batch of the event (for correlations: the newest batch in the episode).",
       None),
    _c("detected_at", UTC_TS, "When detect wrote the alert.", "event.created"),
)

INCIDENT_COLUMNS: tuple[Column, ...] = (
    _c("incident_id", pl.String(), "Stable id (INC-...): a rerun updates the incident, and notes stay with it.",
       "event.id"),
    _c("first_ts", UTC_TS, "First alert of the incident.", "event.start"),
    _c("last_ts", UTC_TS, "Last alert of the incident.", "event.end"),
    _c("actor", pl.String(), "Who: the source address of the alerts; an IPv6 source's /64 (2001:db8:1:2::/64).",
       "source.ip"),
    _c("system", pl.String(), "Target system id from the inventory (null when no system claims the events).",
       None),
    _c("system_name", pl.String(), "Target system name.", None),
    _c("target", pl.String(), "What was hit when no system is known: host or destination address.", None),
    _c("prefecture", pl.String(), "GB/T 2260 code of the prefecture hit.", "organization.id"),
    _c("protection_level", pl.Int8(), "Graded-protection level of the system (2 or 3).", None),
    _c("alerts", pl.Int64(), "Alerts grouped into the incident.", None),
    _c("events", pl.Int64(), "Events behind them (a correlation alert counts its episode's events).", None),
    _c("rule_counts", pl.List(pl.Struct({"rule_id": pl.String(), "rule_title": pl.String(),
                                          "level": pl.String(), "count": pl.Int64()})),
       "Alerts by rule, most first.", None),
    _c("tactics", pl.List(pl.String()), "ATT&CK tactics seen, in kill-chain order.", "threat.tactic.name"),
    _c("stage", pl.String(), "Furthest ATT&CK tactic reached.", None),
    _c("severity", pl.String(), "low, medium, high or critical: the highest alert level, raised one step by "
       "a sign of success.", "event.severity"),
    _c("success", pl.Boolean(), "A sign that the attack worked (see success_evidence).", None),
    _c("success_evidence", pl.String(), "What shows it: an answered injection, a login after a brute force, "
       "a web shell answering.", None),
    _c("category", pl.String(), "GB/T 20986-2023 category (网络攻击事件, 恶意程序事件, 数据安全事件...).", None),
    _c("subcategory", pl.String(), "GB/T 20986-2023 subcategory (漏洞利用事件, 口令暴力破解事件...).", None),
    _c("grade", pl.String(), "National incident grade 一般/较大/重大/特别重大, or 待研判 where logs cannot "
       "determine it.", None),
    _c("grade_reason", pl.String(), "Why that grade.", None),
    _c("status", pl.String(), "new (first seen this run), updated (grew), seen, or what a responder set.", None),
    _c("notes", pl.String(), "Responder notes; kept across reruns.", None),
    _c("alert_ids", pl.List(pl.String()), "The alerts (first 1,000).", None),
    _c("created_at", UTC_TS, "When the incident was first written.", "event.created"),
    _c("updated_at", UTC_TS, "When it last changed.", None),
)

ANOMALY_COLUMNS: tuple[Column, ...] = (
    _c("anomaly_id", pl.String(), "Stable id: the same request (r-<event_id>) or the same entity, model and window "
       "always gets the same id, so reruns replace rather than duplicate.", "event.id"),
    _c("kind", pl.String(), "request (one web request that does not fit its endpoint's profile) or behaviour "
       "(an entity's activity in a window that does not fit the baseline).", "event.kind"),
    _c("model", pl.String(), "What scored it: request, web_source_hour, auth_account_day, auth_source_day or "
       "fw_source_hour.", None),
    _c("entity_type", pl.String(), "ip (a source address) or account (user@host).", None),
    _c("entity", pl.String(), "The address or account.", "source.ip"),
    _c("window_start", UTC_TS, "Start of the window (for a request: its time).", "event.start"),
    _c("window_end", UTC_TS, "End of the window, exclusive (for a request: its time).", "event.end"),
    _c("score", pl.Float64(), "How rare this is in the baseline, as -log10 of the estimated share of normal "
       "requests or windows at least this unusual: 3 means about 1 in 1,000. Comparable across models.",
       "event.risk_score"),
    _c("threshold", pl.Float64(), "The model's threshold: is_anomaly is score >= threshold.", None),
    _c("is_anomaly", pl.Boolean(), "The score reached the threshold.", None),
    _c("explanation", pl.String(), "Why, in words: the parameter or features that do not fit, with the observed "
       "value and what the baseline has.", "message"),
    _c("deviations", pl.List(pl.Struct({"feature": pl.String(), "observed": pl.String(), "typical": pl.String(),
                                        "score": pl.Float64()})),
       "The deviations behind the explanation, most unusual first (score in the same -log10 units).", None),
    _c("prefecture", pl.String(), "GB/T 2260 code of the prefecture (for a window: where most of its events "
       "were logged).", "organization.id"),
    _c("system", pl.String(), "Site or system: the inventory's system id, else the virtual host, host or log "
       "folder.", None),
    _c("host", pl.String(), "Host that logged the event (requests; account windows).", "host.name"),
    _c("endpoint", pl.String(), "Request path with numbers, ids and hashes collapsed ({n}, {hex}, {id}).",
       "url.path"),
    _c("file", pl.String(), "File of the request (request rows).", "log.file.path"),
    _c("line_no", pl.Int64(), "Line of the request in that file.", "log.offset"),
    _c("event_id", pl.Int64(), "The request in the events table.", None),
    _c("events", pl.Int64(), "Events in the window (1 for a request).", None),
    _c("baseline", pl.String(), "What it was compared with: the trained model file, its baseline period and "
       "sha256, or that no model was trained and the baseline was fitted on the data at hand.", None),
    _c("adhoc", pl.Boolean(), "No trained model: scored against a baseline fitted on the data at hand.", None),
    _c("batch_id", pl.Int64(), "Newest ingest batch among the events scored.", None),
    _c("detected_at", UTC_TS, "When the anomaly stage wrote the row.", "event.created"),
)

COMPLIANCE_COLUMNS: tuple[Column, ...] = (
    _c("system", pl.String(), "System id from the inventory.", None),
    _c("system_name", pl.String(), "System name from the inventory.", None),
    _c("prefecture", pl.String(), "GB/T 2260 code of the system's prefecture.", "organization.id"),
    _c("level", pl.Int8(), "Graded-protection level of the system (2 or 3).", None),
    _c("clause", pl.String(), "GB/T 22239-2019 clause and item letter ('8.1.4.1 b'; 7.1.x.y at level 2, 8.1.x.y at "
       "level 3), or the law article for log retention ('网络安全法 第二十三条').", None),
    _c("item", pl.String(), "The item's text, as in GB/T 22239-2019.", None),
    _c("check", pl.String(), "Short id of the check that judged it (login_failure, remote_admin...).", None),
    _c("verdict", pl.String(), "不符合 (the logs show a violation), 部分符合 (the logs support compliance; a person "
       "must still check the configuration), 证据不足 (the logs say nothing either way) or 不适用. Never 符合: logs "
       "alone cannot prove a control.", None),
    _c("high_risk", pl.Boolean(), "The violation is one the graded-protection high-risk determination guide treats "
       "as high risk (only set on 不符合).", None),
    _c("reason", pl.String(), "Why this verdict, in one sentence.", None),
    _c("evidence", pl.String(), "Counts and a few example events; personal information appears masked only.", None),
    _c("examples", pl.List(pl.String()), "Example events as file:line.", None),
    _c("to_verify", pl.String(), "What a person must still check (configuration, documents) to settle the item.",
       None),
    _c("period_start", UTC_TS, "Start of the period judged (inclusive).", "event.start"),
    _c("period_end", UTC_TS, "End of the period judged (exclusive). Each run replaces the table; earlier runs are "
       "earlier Delta versions.", "event.end"),
    _c("checked_at", UTC_TS, "When the verdict was written.", "event.created"),
)

TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    EVENTS: EVENT_COLUMNS,
    REJECTS: REJECT_COLUMNS,
    INGEST_LOG: INGEST_LOG_COLUMNS,
    ALERTS: ALERT_COLUMNS,
    INCIDENTS: INCIDENT_COLUMNS,
    ANOMALIES: ANOMALY_COLUMNS,
    COMPLIANCE: COMPLIANCE_COLUMNS,
}


def schema(table: str) -> pl.Schema:
    """The Polars schema of a store table."""
    return pl.Schema({c.name: c.dtype for c in TABLE_COLUMNS[table]})


def conform(df: pl.DataFrame | pl.LazyFrame, table: str) -> pl.LazyFrame:
    """Select a table's columns in order with their types, adding missing ones as nulls.

    Parsers only produce the columns their format has; this makes every frame written to a table
    identical in shape, so appends never fail on schema and readers see one layout.
    """
    lf = df.lazy()
    have = lf.collect_schema()
    exprs = []
    for col in TABLE_COLUMNS[table]:
        if col.name in have:
            exprs.append(pl.col(col.name).cast(col.dtype, strict=False) if have[col.name] != col.dtype
                         else pl.col(col.name))
        else:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
    return lf.select(exprs)
