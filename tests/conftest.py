"""Shared pytest set-up: the open tools on PATH before any test runs."""

from eligo.toolchain import configure_environment

configure_environment()
