"""Report stage: static, self-contained HTML for managers and responders, plus JSON and CSV exports."""

from secaware.report.build import ReportResult, report

__all__ = ["ReportResult", "report"]
