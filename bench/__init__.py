"""Benchmarks that print figures (medians, percentiles, ratios). They assert nothing: see README."""
