"""Genome families: pure data and variation (numpy at import; no torch). One module per family (``amoeba``,
``automl_zero``, ``bitstring``, ``motifs``, ``neat``) on the shared protocol in ``base``; the IRs they lower to
(``ir``, ``program_ir``) import nothing of the project. AutoML-Zero's and NEAT's bulk variation call their
Numba kernels in ``evonas.kernels``, imported on first use. ``evonas.registry`` lists the families."""
