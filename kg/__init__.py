"""Knowledge graph of a real network: topology import, graph model, queries."""
