"""Campaigns: the campaign file and its plan, the crash-safe store, progress and the driver (``planned − done``)."""
