"""Bit-exact integer model of the accelerator datapath (the contract the RTL must match)."""
