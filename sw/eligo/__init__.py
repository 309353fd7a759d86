"""eligo: on-chip online training of spiking neural networks with local learning rules.

The package is the software half of the project (reference models, fixed-point
contract, data, drivers, CLI). It never imports the hardware package
``eligo_hw`` at import time, so a driver-only install stays light.
"""

__version__ = "0.1.0"
