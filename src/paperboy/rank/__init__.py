"""Ranking: how papers are ordered (trending)."""
