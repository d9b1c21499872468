"""Opastin: reminders."""
