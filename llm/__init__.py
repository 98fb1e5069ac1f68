"""Scenario generators behind one registry, LLM providers, constrained decoding and repair (the scenario model is ``ani.kg.scenario``)."""
