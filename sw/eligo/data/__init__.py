"""Event data: real file formats, transforms, embedded generated sets, and chip streams.

Everything a learning rule or the chip consumes goes through ``SpikeDataset``
(binned spikes ``[N, T, n_inputs]`` and labels); ``load_dataset`` is the one
entry point by name.
"""

from eligo.data.dataset import DATASETS, SpikeDataset, load_dataset, register_dataset
from eligo.data.events import EVENT_DTYPE, EmptyRecordingError, EventFileError
from eligo.data.formats import read_events

__all__ = ["DATASETS", "EVENT_DTYPE", "EmptyRecordingError", "EventFileError", "SpikeDataset", "load_dataset",
           "read_events", "register_dataset"]
