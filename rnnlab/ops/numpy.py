"""``keras.ops.numpy``: the NumPy-like ops, gathered from their family modules (arithmetic, binary maths,
comparisons, elementwise maths, selection, reductions and statistics, shapes, joins, diagonals, rotations,
searching, products, creation)."""
from rnnlab.ops.arithmetic import *  # noqa: F401,F403
from rnnlab.ops.arithmetic import getitem as get_item  # noqa: F401
from rnnlab.ops.binary import *  # noqa: F401,F403
from rnnlab.ops.comparison import *  # noqa: F401,F403
from rnnlab.ops.core import vectorize  # noqa: F401
from rnnlab.ops.creation import *  # noqa: F401,F403
from rnnlab.ops.diagonals import *  # noqa: F401,F403
from rnnlab.ops.elementwise import *  # noqa: F401,F403
from rnnlab.ops.joins import *  # noqa: F401,F403
from rnnlab.ops.products import *  # noqa: F401,F403
from rnnlab.ops.nan_reductions import *  # noqa: F401,F403
from rnnlab.ops.reductions import *  # noqa: F401,F403
from rnnlab.ops.rotations import *  # noqa: F401,F403
from rnnlab.ops.searching import *  # noqa: F401,F403
from rnnlab.ops.selection import *  # noqa: F401,F403
from rnnlab.ops.shapes import *  # noqa: F401,F403
from rnnlab.ops.statistics import *  # noqa: F401,F403
from rnnlab.ops.solvers import slogdet  # noqa: F401

del slice, slice_update, unstack, logsumexp, rsqrt  # noqa: F821 - Keras has them in core and math
