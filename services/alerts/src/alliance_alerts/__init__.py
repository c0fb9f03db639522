"""Alerts: turns scored responses into alerts (stored) and notices (published)."""
