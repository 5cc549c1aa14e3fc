"""Keras 3's ``keras.ops`` on NumPy: the operations user layers and cells are written with.

Each op takes NumPy arrays, Python scalars, layer weights (``Variable``) or :class:`Tensor` objects. Outside
training it returns NumPy arrays. While a layer written with ops trains, its inputs and weights are on a record
(:mod:`rnnlab.ops.tensor`), and ops return Tensors that know their backward: the op's vector-Jacobian product,
written beside its forward in the op's family module. Under ``import rnnlab as keras``, ``keras.ops.matmul``
is :func:`matmul` here.

Every op is reachable here, and by Keras's namespaces: ``ops.numpy``, ``ops.nn``, ``ops.linalg`` (and the
family modules ``ops.math`` and ``ops.core``, named after Keras's source modules).
"""
from rnnlab.ops import dispatch  # noqa: F401 - gives Tensor its operators
from rnnlab.ops.arithmetic import *  # noqa: F401,F403
from rnnlab.ops.arithmetic import getitem as get_item  # noqa: F401
from rnnlab.ops.binary import *  # noqa: F401,F403
from rnnlab.ops.comparison import *  # noqa: F401,F403
from rnnlab.ops.core import *  # noqa: F401,F403
from rnnlab.ops.creation import *  # noqa: F401,F403
from rnnlab.ops.diagonals import *  # noqa: F401,F403
from rnnlab.ops.dtypes import *  # noqa: F401,F403
from rnnlab.ops.elementwise import *  # noqa: F401,F403
from rnnlab.ops.joins import *  # noqa: F401,F403
from rnnlab.ops.linalg import *  # noqa: F401,F403
from rnnlab.ops.math import *  # noqa: F401,F403
from rnnlab.ops.nn import *  # noqa: F401,F403
from rnnlab.ops.products import *  # noqa: F401,F403
from rnnlab.ops.nan_reductions import *  # noqa: F401,F403
from rnnlab.ops.reductions import *  # noqa: F401,F403
from rnnlab.ops.rotations import *  # noqa: F401,F403
from rnnlab.ops.scatter import *  # noqa: F401,F403
from rnnlab.ops.searching import *  # noqa: F401,F403
from rnnlab.ops.selection import *  # noqa: F401,F403
from rnnlab.ops.solvers import slogdet  # noqa: F401 - logdet comes with math, the rest with linalg
from rnnlab.ops.shapes import *  # noqa: F401,F403
from rnnlab.ops.statistics import *  # noqa: F401,F403
from rnnlab.ops.tensor import Tensor  # noqa: F401
from rnnlab.ops import core, linalg, math, nn, numpy  # noqa: F401,E402 - Keras's namespaces

# NumPy functions and keras.activations called on a Tensor run as the ops of the same name: both look them up in
# this namespace, which they cannot import (it imports them).
import sys as _sys  # noqa: E402

from rnnlab import activations as _activations  # noqa: E402

dispatch.OPS = _activations._OPS = _sys.modules[__name__]
