"""``keras.ops.numpy``: the NumPy-like ops, gathered from their family modules (arithmetic, comparisons,
elementwise maths, selection, reductions, shapes, products, creation)."""
from rnnlab.ops.arithmetic import *  # noqa: F401,F403
from rnnlab.ops.arithmetic import getitem as get_item  # noqa: F401
from rnnlab.ops.comparison import *  # noqa: F401,F403
from rnnlab.ops.creation import *  # noqa: F401,F403
from rnnlab.ops.elementwise import *  # noqa: F401,F403
from rnnlab.ops.products import *  # noqa: F401,F403
from rnnlab.ops.reductions import *  # noqa: F401,F403
from rnnlab.ops.selection import *  # noqa: F401,F403
from rnnlab.ops.shapes import *  # noqa: F401,F403

del slice, slice_update, unstack, logsumexp, rsqrt  # noqa: F821 - Keras has them in core and math
