"""Compliance stage: GB/T 22239-2019 (等级保护 2.0) verdicts per system and item, from log evidence."""

from secaware.compliance.build import ComplianceReport, compliance, parse_period

__all__ = ["ComplianceReport", "compliance", "parse_period"]
