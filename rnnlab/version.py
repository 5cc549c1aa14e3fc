"""rnnlab's version, in a module of its own so that any part of rnnlab can name it (the file formats record
it) without importing the package's ``__init__``, which imports everything."""
__version__ = "0.1.0"
