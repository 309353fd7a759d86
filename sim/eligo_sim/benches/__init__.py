"""One cocotb bench module per component; each calls the fixed-point model as its scoreboard."""
