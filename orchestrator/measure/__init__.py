"""Measuring a run: its folder parsed into typed frames (FlowMonitor, CSVs), KPIs, damage, golden checks."""
