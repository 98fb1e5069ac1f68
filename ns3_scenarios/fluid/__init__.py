"""The fluid (flow-level) screening tier of the twin: see :mod:`.model`."""

from ani.ns3_scenarios.fluid.model import (
    FluidKpis,
    FluidRefusal,
    FluidTwin,
    fluid_twin,
    refuse_graph,
    refuse_setup,
)

__all__ = ["FluidKpis", "FluidRefusal", "FluidTwin", "fluid_twin", "refuse_graph", "refuse_setup"]
