"""Knowledge graph of a real network: importers, layers, the causal model, queries.

Modules (import what you need; nothing is imported here, so ``import ani.kg`` stays light):

=================  ===============================================================
``topology``       Topology Zoo GraphML -> the graph schema; link/node lookup; ``graph_digest``
``caida``          CAIDA AS relationships (serial-1/2, plain/bz2/gz) -> the same schema
``yamlio``         the project YAML/JSON format (all layers, JSON Schema)
``graphml``        the project GraphML (network layer), written and read back unchanged
``io``             ``load_network`` / ``open_kg``: any supported input by its name
``resources``      router CPU, memory and buffer, with documented defaults
``srlg``           shared-risk link groups: declared, or derived (corridor and metro rules)
``demands``        gravity demands, demand matrices, per-hop ECMP routing and loads
``incidents``      past incidents (CSV/JSON) -> replay scenarios and historical edges
``dependency``     the typed causal DiGraph, its rules and the applicability table
``causal``         scenario state, causal frontier
``validate``       ``validate(scenario, kg) -> list[Issue]`` and causal depth
``context``        compact k-hop context for prompts, within a size budget
``model``          ``build_kg`` -> ``KnowledgeGraph`` (implements ``contract.CausalModel``)
``contract``       ``CausalModel`` and ``Issue``: what generators may rely on
``scenario``       the vocabulary: ``Event``, ``Scenario`` (pydantic), ``load_scenario``
``event_types``    the event-type catalogue: one row per type; every other table of types derives from it
=================  ===============================================================

One attribute schema for every importer (the topology graph, ``nx.Graph``):

* node: ``label``, ``zoo_id`` (id in the source file), ``kind`` (``router``,
  ``hyperedge``, ``external``), ``lat``, ``lon`` (degrees or None); CAIDA adds
  ``asn``. :func:`~ani.kg.model.build_kg` adds ``cpu_capacity_bps``,
  ``memory_mb``, ``buffer_bytes``, ``resources_source`` and, with demands,
  ``load_bps`` and ``utilization``.
* link: ``link_id`` (``u-v``), ``capacity_bps``, ``capacity_source``,
  ``delay_s``, ``delay_source``, ``distance_km``, ``ospf_cost``, ``parallel``;
  CAIDA adds ``relationship``, ``provider``, ``rel_source``; with demands
  ``load_bps`` (busiest direction) and ``utilization``.

Component ids share one namespace: node ids, link ids (``u-v``, either order
resolves) and SRLG ids (``srlg:<name>``).
"""
