"""Sub-commands of the ``eligo`` CLI, one module each (see ``eligo.cli``)."""
