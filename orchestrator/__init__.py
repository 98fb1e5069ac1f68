"""Runs scenarios in ns-3, parses FlowMonitor output into KPIs, drives campaigns."""
