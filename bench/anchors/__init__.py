"""Anchors of the HTTP benchmarks: the simplest servers that do the same job on the same stack."""
