"""Keras 3's ``keras.ops`` on NumPy: the operations user layers and cells are written with.

Each op takes NumPy arrays, Python scalars, layer weights (``Variable``) or :class:`Tensor` objects. Outside
training it returns NumPy arrays. While a layer written with ops trains, its inputs and weights are on a record
(:mod:`rnnlab.ops.tensor`), and ops return Tensors that know their backward: the op's vector-Jacobian product,
written beside its forward in the op's family module. Under ``import rnnlab as keras``, ``keras.ops.matmul``
is :func:`matmul` here.
"""
from rnnlab.ops import dispatch  # noqa: F401 - gives Tensor its operators
from rnnlab.ops.arithmetic import *  # noqa: F401,F403
from rnnlab.ops.comparison import *  # noqa: F401,F403
from rnnlab.ops.dtypes import *  # noqa: F401,F403
from rnnlab.ops.elementwise import *  # noqa: F401,F403
from rnnlab.ops.tensor import Tensor  # noqa: F401
