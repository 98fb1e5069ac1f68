"""The closed loop: generate → validate → simulate → KPIs → mitigate → feed back to the generator."""
