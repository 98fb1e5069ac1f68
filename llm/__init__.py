"""Scenario schema and scenario generators."""
