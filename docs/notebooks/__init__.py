"""eligo notebooks, package data so that ``pynq get-notebooks eligo`` can deliver them."""
