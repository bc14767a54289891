"""The demo data set and the first-run login (`dealflow demo`, `dealflow bootstrap`).

It uses every domain package and nothing uses it, so it sits above them all, outside the
ground floor (core/).
"""
