"""The exceptions the driver raises; every transport raises these and no others for device trouble."""

from __future__ import annotations


class DriverError(RuntimeError):
    """A request the driver cannot carry out (bad arguments, a stream out of step, a transport failure)."""


class PairingError(DriverError):
    """The device answering is not the accelerator this driver was configured for (wrong bitstream or config)."""


class StreamLengthError(DriverError):
    """An output packet (closed by TLAST) is shorter or longer than the driver expects."""


class TransportTimeout(DriverError):
    """Nothing came back from the device within the timeout."""


class DeviceError(DriverError):
    """The device reported an error: a bus access answered SLVERR, or ERROR holds causes.

    ``causes`` names the ERROR fields that were set (``eligo.regmap.ERROR_CAUSES``).
    """

    def __init__(self, message: str, causes: tuple[str, ...] = ()):
        super().__init__(message if not causes else f"{message} (ERROR causes: {', '.join(causes)})")
        self.causes = tuple(causes)
