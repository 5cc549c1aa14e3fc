"""What every layer and cell is built on: ``Layer``, ``Variable``, ``KerasTensor`` and the graph ``Node``.

It sits below :mod:`rnnlab.cells` (the built-in cells are layers) and :mod:`rnnlab.layers`, and imports neither.
"""
