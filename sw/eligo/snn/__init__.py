"""Float spiking networks: LIF layers (FC and conv), surrogates Ψ, the leaky-integrator readout."""

from eligo.snn.layers import LeakyReadout, LIFConv2d, LIFLayer, LIFLinear, LIFParams, LIFState, StepRecord
from eligo.snn.network import SNN, ConvSpec, NetState, build_network, parse_hidden
from eligo.snn.surrogates import SURROGATE_KINDS, Surrogate, spike

__all__ = ["SNN", "SURROGATE_KINDS", "ConvSpec", "LIFConv2d", "LIFLayer", "LIFLinear", "LIFParams", "LIFState",
           "LeakyReadout", "NetState", "StepRecord", "Surrogate", "build_network", "parse_hidden", "spike"]
