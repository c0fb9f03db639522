"""Scoring: consumes responses, scores them and keeps the dyad projections."""
