"""The engine side of each genome family, and the record each registers (``evonas.registry`` lists them)."""
