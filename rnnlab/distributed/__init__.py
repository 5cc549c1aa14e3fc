"""Running rnnlab models on a Dask cluster (the optional ``rnnlab[dask]`` extra).

``model.predict``, ``model.evaluate`` and ``model.fit`` send ``dask.array.Array`` inputs here; nothing in this
package imports Dask until such an array arrives, so the core runs without it.

- :mod:`rnnlab.distributed.dask_inputs`: recognising dask arrays, checking their chunks, and
  :func:`read_npy` (a ``.npy`` file as a dask array read on the workers);
- :mod:`rnnlab.distributed.worker_model`: the model as it travels (config + weights) and is rebuilt on a worker;
- :mod:`rnnlab.distributed.dask_predict`: lazy, chunk-by-chunk ``predict`` and batch-exact ``evaluate``;
- :mod:`rnnlab.distributed.dask_fit`: synchronous data-parallel training steps.
"""
from rnnlab.distributed.dask_inputs import read_npy

__all__ = ["read_npy"]
