"""Shared constants of the closed-loop tests."""

#: short runs: 0.2 s warm-up, 0.6 s observed after the last event, 0.2 s drain
SHORT = {"warmup_s": 0.2, "observe_s": 0.6, "drain_s": 0.2}
