"""Multiruns: naming each job by what its sweep varies, and summarising a sweep."""
