"""cocotb benches of the eligo RTL and the pytest-side runner that builds and runs them."""
