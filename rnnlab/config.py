"""Global settings, as ``keras.config``: the default float dtype."""
from rnnlab.backend import floatx, set_floatx

__all__ = ["floatx", "set_floatx"]
