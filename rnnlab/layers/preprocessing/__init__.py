"""Preprocessing layers for text and categorical inputs: StringLookup, IntegerLookup, TextVectorization."""
from rnnlab.layers.preprocessing.integer_lookup import IntegerLookup
from rnnlab.layers.preprocessing.string_lookup import StringLookup
from rnnlab.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["StringLookup", "IntegerLookup", "TextVectorization"]
