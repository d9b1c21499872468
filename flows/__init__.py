"""Opastin: flows."""
