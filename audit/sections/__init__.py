"""The audit sections, one package (or module) per area; ``registry`` is the one list of them."""
