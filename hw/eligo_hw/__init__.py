"""Amaranth hardware of the eligo accelerator, elaborated from ``eligo.config``."""
