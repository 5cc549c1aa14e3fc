"""TensorFlow's own names, which rnnlab refuses by name.

After the import swap ``import rnnlab as tf``, a program reaches Keras as ``tf.keras`` (rnnlab itself), and also
reaches the rest of TensorFlow: ``tf.data``, ``tf.GradientTape``, ``tf.config.list_physical_devices``.  rnnlab
implements the Keras API only, so these names do not exist.  Each one in the tables below gets an
``AttributeError`` that says what the name is in TensorFlow and what to use in rnnlab instead.  It stays an
``AttributeError``, so ``hasattr`` and ``getattr(module, name, default)`` keep working.

The tables never hold a name that rnnlab defines: ``__getattr__`` only runs for names a module lacks.
"""
from __future__ import annotations

_SCOPE = "rnnlab implements the Keras API (tf.keras), not the rest of TensorFlow"

_OPS = "rnnlab.ops (Keras's keras.ops) has the array math, on NumPy arrays"
_ARRAYS = "rnnlab's values are NumPy arrays: use np.asarray(...), or rnnlab.ops.convert_to_tensor(...)"
_DTYPE = 'Keras takes dtype names as strings: write dtype="{name}"'

# ``tf.<name>``: what it is in TensorFlow, and what to use instead
_TOP_LEVEL = {
    "data": ("TensorFlow's input pipeline (tf.data.Dataset)",
             "pass NumPy arrays, a generator, a rnnlab.utils.PyDataset or rnnlab.utils.timeseries_dataset_from_array"
             "(...) to fit/evaluate/predict"),
    "math": ("TensorFlow's math module", _OPS + " (rnnlab.ops.sum, rnnlab.ops.tanh, ...)"),
    "linalg": ("TensorFlow's linear algebra module", _OPS + " (rnnlab.ops.matmul, rnnlab.ops.einsum, ...)"),
    "nn": ("TensorFlow's neural-network ops", _OPS + " (rnnlab.ops.sigmoid, rnnlab.ops.softmax, ...)"),
    "signal": ("TensorFlow's signal-processing module", _OPS),
    "Variable": ("TensorFlow's variable (keras.Variable in Keras 3)",
                 "make weights inside a Layer with self.add_weight(shape, initializer=...)"),
    "GradientTape": ("TensorFlow's automatic differentiation",
                     "rnnlab computes gradients in each layer's backward pass: train with model.fit(...) or "
                     "model.train_on_batch(...)"),
    "function": ("TensorFlow's graph compiler (@tf.function)",
                 "rnnlab runs eagerly on NumPy and needs no compilation: drop the decorator"),
    "device": ("device placement (tf.device, keras.device)",
               "rnnlab runs on the CPU with NumPy: drop the `with ...device(...)` block"),
    "constant": ("a TensorFlow tensor constructor", _ARRAYS),
    "convert_to_tensor": ("a TensorFlow tensor constructor", _ARRAYS),
    "Tensor": ("TensorFlow's tensor type", "rnnlab's values are NumPy arrays (np.ndarray)"),
    "TensorSpec": ("TensorFlow's tensor signature", "give shapes to rnnlab.Input(shape=..., dtype=...)"),
    "RaggedTensor": ("TensorFlow's ragged tensor",
                     "pad the sequences with rnnlab.utils.pad_sequences and mask them (Masking, mask_zero=True)"),
    "SparseTensor": ("TensorFlow's sparse tensor", "use dense NumPy arrays"),
    "TensorArray": ("TensorFlow's tensor list", "use a Python list of NumPy arrays"),
    "distribute": ("TensorFlow's distribution strategies", "see rnnlab.distributed (Dask) in the README"),
    "saved_model": ("TensorFlow's SavedModel format",
                    "use model.save('m.keras') or model.save('m.h5'); rnnlab.convert exports ONNX"),
    "lite": ("TensorFlow Lite", "rnnlab.convert exports ONNX"),
    "train": ("TensorFlow's checkpoints and training utilities",
              "use model.save_weights(...)/load_weights(...) and rnnlab.callbacks.ModelCheckpoint"),
    "summary": ("TensorFlow's TensorBoard summaries", "log with rnnlab.callbacks (CSVLogger, History)"),
    "io": ("TensorFlow's file I/O", "use Python's open() and NumPy"),
    "strings": ("TensorFlow's string ops", "use Python strings, or rnnlab.layers.TextVectorization"),
    "image": ("TensorFlow's image ops", "use NumPy"),
    "sparse": ("TensorFlow's sparse ops", "use dense NumPy arrays"),
    "ragged": ("TensorFlow's ragged tensors",
               "pad the sequences with rnnlab.utils.pad_sequences and mask them (Masking, mask_zero=True)"),
    "compat": ("TensorFlow's compatibility module (tf.compat.v1)", "write Keras 3 code"),
    "experimental": ("TensorFlow's experimental APIs", "write Keras 3 code"),
    "test": ("TensorFlow's test utilities", "use pytest and numpy.testing"),
    "debugging": ("TensorFlow's debugging module", "use NumPy checks such as np.isfinite"),
    "print": ("TensorFlow's graph-mode print (tf.print)", "use Python's print"),
    "float16": ("a TensorFlow dtype object", _DTYPE), "float32": ("a TensorFlow dtype object", _DTYPE),
    "float64": ("a TensorFlow dtype object", _DTYPE), "int32": ("a TensorFlow dtype object", _DTYPE),
    "int64": ("a TensorFlow dtype object", _DTYPE), "bool": ("a TensorFlow dtype object", _DTYPE),
    "string": ("a TensorFlow dtype object", "rnnlab's text layers take Python strings"),
}
# TensorFlow ops that keras.ops (and so rnnlab.ops) spells differently, or the same
_TOP_LEVEL.update({name: ("a TensorFlow op", f"use rnnlab.ops.{keras_name}(...) (Keras's keras.ops)")
                   for name, keras_name in {
                       "reduce_sum": "sum", "reduce_mean": "mean", "reduce_max": "max", "reduce_min": "min",
                       "concat": "concatenate", "reshape": "reshape", "cast": "cast", "stack": "stack",
                       "matmul": "matmul", "expand_dims": "expand_dims", "squeeze": "squeeze",
                       "transpose": "transpose", "zeros": "zeros", "ones": "ones", "zeros_like": "zeros_like",
                       "ones_like": "ones_like", "where": "where", "argmax": "argmax", "shape": "shape",
                       "square": "square", "sqrt": "sqrt", "exp": "exp", "abs": "abs", "tanh": "tanh",
                       "sigmoid": "sigmoid", "one_hot": "one_hot", "einsum": "einsum", "clip_by_value": "clip",
                   }.items()})

# ``tf.config.<name>``: rnnlab.config is Keras's keras.config, which lacks TensorFlow's device settings
_CONFIG = {name: ("TensorFlow's device and runtime configuration",
                  "rnnlab runs on the CPU with NumPy: drop the call (rnnlab.config.set_num_threads(n) sets the "
                  "native kernels' threads)")
           for name in ("list_physical_devices", "list_logical_devices", "get_visible_devices",
                        "set_visible_devices", "set_logical_device_configuration", "experimental", "threading",
                        "optimizer", "run_functions_eagerly", "set_soft_device_placement")}

# ``tf.random.<name>``: rnnlab.random is Keras's keras.random (normal, uniform, ...), not TensorFlow's random module
_RANDOM = {"set_seed": ("TensorFlow's global seed", "use rnnlab.utils.set_random_seed(seed), as Keras 3 does")}
_RANDOM["Generator"] = ("TensorFlow's stateful random generator",
                        "use rnnlab.random.SeedGenerator(seed) as the seed of rnnlab.random's draws (keras.random)")

_TABLES = {"rnnlab": ("tf", _TOP_LEVEL), "rnnlab.config": ("tf.config", _CONFIG),
           "rnnlab.random": ("tf.random", _RANDOM)}


def missing_attribute(module_name, name):
    """The ``AttributeError`` for ``module_name.name``, naming TensorFlow's API when ``name`` is one of it."""
    prefix, table = _TABLES[module_name]
    message = f"module {module_name!r} has no attribute {name!r}"
    if name in table:
        what, instead = table[name]
        instead = instead.format(name=name)
        message += (f": {prefix}.{name} is {what}, which rnnlab does not implement; {_SCOPE}. "
                    f"{instead[0].upper()}{instead[1:]}.")
    return AttributeError(message)
