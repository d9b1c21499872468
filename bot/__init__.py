"""Opastin: bot."""
