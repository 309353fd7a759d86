"""Drive the accelerator from Python: one ``Accelerator`` API over interchangeable transports.

``model`` (the fixed-point model behind the register map), ``rtl`` (the
Verilog in a cocotb simulation), ``pynq`` (MMIO and AXI DMA on a Zynq board)
and ``serial`` (a UART bridge) carry the same registers and streams; see
docs/driver.md.
"""

from eligo.driver.accelerator import Accelerator, Counters, decode_causes
from eligo.driver.errors import DeviceError, DriverError, PairingError, StreamLengthError, TransportTimeout
from eligo.driver.transport import Transport
from eligo.layout import SampleResult, WeightLayout, output_length

__all__ = ["Accelerator", "Counters", "DeviceError", "DriverError", "PairingError", "SampleResult",
           "StreamLengthError", "Transport", "TransportTimeout", "WeightLayout", "decode_causes", "output_length"]
