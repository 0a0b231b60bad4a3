"""Incidents stage: alerts grouped by actor, target and time, with category, severity and grade."""

from secaware.incidents.build import IncidentReport, add_note, incidents

__all__ = ["IncidentReport", "add_note", "incidents"]
