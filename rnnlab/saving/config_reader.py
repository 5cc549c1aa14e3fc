"""Reading model configs in Keras's JSON form: Keras 3's (``.keras`` ``config.json``) and TF-Keras 2's
(``.h5`` ``model_config``).

Every layer config is checked against what rnnlab implements: arguments whose names or meanings changed are
translated, size arguments are bounded by :class:`KerasLoadOptions` (so a corrupted number cannot allocate
more than the file could hold), and anything else is refused with a ``ValueError`` that names the layer and
its class.  The layers are then created and called on symbolic tensors in the recorded order, rebuilding
the functional or sequential model.  Nothing from the file is ever executed: classes are looked up in a
fixed table, or among the objects the program supplied (``custom_objects``, ``custom_object_scope``,
``register_keras_serializable``).  Writing the configs is
:mod:`.config_writer`'s job.
"""
from __future__ import annotations

import inspect
import math
import warnings

from rnnlab import activations, backend, constraints, initializers, nest, regularizers
from rnnlab import layers as L
from rnnlab.engine.layer import Layer
from rnnlab.engine.serialization import get_registered_object
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.input_layer import InputLayer
from rnnlab.layers.rnn import RNN
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential
from rnnlab.saving.keras_ops import KerasOp

__all__ = ["KerasLoadOptions", "deserialize_model", "deserialize_layer_config"]

_ACTIVATION_MODULES = ("keras.activations", "keras.src.activations", "keras.src.activations.activations",
                       "tensorflow.keras.activations", "keras", None)


class KerasLoadOptions:
    """How to read a file's configs.

    ``legacy`` selects TF-Keras 2 meanings (its ``hard_sigmoid``, GRU ``reset_after=False`` by default,
    Sequential/Functional node numbering); ``max_elements`` bounds every size argument (units, vocabulary...)
    so that a corrupted number cannot make rnnlab allocate more than the weights file could hold.
    """

    def __init__(self, custom_objects=None, safe_mode=True, legacy=False, max_elements=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                "Argument `custom_objects` must be a dict mapping names to classes or functions; "
                f"received {type(custom_objects).__name__}."
            )
        self.custom_objects = dict(custom_objects or {})
        self.safe_mode = bool(safe_mode)
        self.legacy = bool(legacy)
        self.max_elements = max_elements


# =====================================================================================================
# reading: layer configs
# =====================================================================================================

# The classes a config may name: a fixed table, never a lookup by a name from the file.
_LAYER_CLASSES = {cls.__name__: cls for cls in (
    L.LSTM, L.GRU, L.SimpleRNN, L.RNN, L.LSTMCell, L.GRUCell, L.SimpleRNNCell, L.StackedRNNCells,
    L.Bidirectional, L.Dense, L.TimeDistributed, L.Masking, L.Embedding, L.Dropout, L.InputLayer, L.Identity,
    L.Activation, L.ReLU, L.LeakyReLU, L.PReLU, L.ELU, L.Softmax, L.RepeatVector, L.Flatten, L.Reshape, L.Permute,
    L.Cropping1D, L.ZeroPadding1D, L.UpSampling1D, L.Concatenate, L.Add, L.Subtract, L.Multiply, L.Average,
    L.Maximum, L.Minimum, L.Dot, L.Conv1D, L.MaxPooling1D, L.AveragePooling1D, L.GlobalMaxPooling1D,
    L.GlobalAveragePooling1D, L.BatchNormalization, L.LayerNormalization, L.SpatialDropout1D, L.GaussianNoise,
    L.GaussianDropout)}
_LAYER_CLASSES.update({cls.__name__: cls for cls in (L.StringLookup, L.IntegerLookup, L.TextVectorization)})
_LAYER_CLASSES.update({cls.__name__: cls for cls in (L.Attention, L.AdditiveAttention, L.MultiHeadAttention,
                                                     L.ConvLSTM1D, L.ConvLSTM2D, L.ConvLSTM3D, L.Conv2D, L.Conv3D,
                                                     L.MaxPooling2D, L.GlobalAveragePooling2D)})
_LAYER_CLASSES.update({cls.__name__: cls for cls in (
    L.Lambda, L.Normalization, L.UnitNormalization, L.RMSNormalization, L.GroupNormalization,
    L.ActivityRegularization, L.AlphaDropout, L.Rescaling, L.CategoryEncoding, L.Discretization, L.Hashing,
    L.EinsumDense, L.DepthwiseConv1D, L.DepthwiseConv2D, L.SeparableConv1D, L.SeparableConv2D)})
_LOOKUPS = ("StringLookup", "IntegerLookup", "TextVectorization")


# Names older files use for classes rnnlab has.
_CLASS_ALIASES = {"LSTMV1": "LSTM", "GRUV1": "GRU"}
_MODEL_CLASSES = ("Functional", "Model", "Sequential")
_RECURRENT = ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell")

# Arguments rnnlab may drop when they hold the value that means "off"; any other value is refused.
_NEUTRAL = {
    "ragged": (False, None), "optional": (False,), "quantization_config": (None,), "lora_rank": (None,),
    "time_major": (False, None), "input_tensor": (None,), "sparse": (False, None), "autocast": (True, False),
    "input_axes": (None,), "output_axes": (None,),
}
_ALWAYS_DROPPED = ("implementation", "lora_alpha", "shared_object_id", "synchronized")
_INITIALIZER_KEYS = ("kernel_initializer", "recurrent_initializer", "bias_initializer", "embeddings_initializer",
                     "alpha_initializer", "gamma_initializer", "beta_initializer", "moving_mean_initializer",
                     "moving_variance_initializer")
_SIZE_KEYS = ("units", "input_dim", "output_dim", "filters")


def _fail(message):
    raise ValueError(message)


def _where(config, class_name):
    name = config.get("name") if isinstance(config, dict) else None
    return f"layer {name!r} ({class_name})" if isinstance(name, str) else f"a {class_name} layer"


def _dtype_name(value, where):
    """A layer dtype: a string, a Keras 3 ``DTypePolicy`` dict or a TF-Keras 2 ``Policy`` dict."""
    if value is None:
        return None
    if isinstance(value, dict):
        inner = value.get("config")
        if not isinstance(inner, dict) or not isinstance(inner.get("name"), str):
            _fail(f"{where}: unreadable dtype policy {value!r}.")
        value = inner["name"]
    if not isinstance(value, str):
        raise TypeError(f"{where}: dtype must be a string; found {value!r}.")
    try:
        return backend.standardize_dtype(value)
    except (TypeError, ValueError):
        _fail(f"{where} computes in {value!r}; rnnlab computes in float32 or float64 only.")


def _custom_object(name, registered, where, opts, kind):
    """A class or function the program supplied: in ``custom_objects``, in an active ``custom_object_scope``, or
    registered with ``register_keras_serializable``, as Keras looks them up. A file can only name one of
    them; nothing it names is ever imported. (``safe_mode`` refuses code stored in the file, such as lambdas,
    which rnnlab never runs in any mode.)"""
    for key in (registered, name):
        found = get_registered_object(key, opts.custom_objects)
        if found is not None:
            return found
    return None


def _activation(value, key, where, opts):
    if value is None:
        return None
    if isinstance(value, dict):
        cls = value.get("class_name")
        inner = value.get("config")
        if cls == "function" and isinstance(inner, str):
            module = value.get("module")
            if module not in _ACTIVATION_MODULES and not str(module).startswith("keras"):
                fn = _custom_object(inner, value.get("registered_name"), where, opts, "function")
                if fn is None:
                    _fail(f"{where}: `{key}` is the custom function {inner!r} (module {module!r}), which rnnlab "
                          "does not have; pass it in custom_objects or register it.")
                return fn
            value = inner
        elif cls == "__lambda__":
            _fail(f"{where}: `{key}` is a Python lambda stored as code; rnnlab never runs code from a file.")
        else:
            _fail(f"{where}: `{key}` is an activation object of class {cls!r}; rnnlab supports activation names.")
    if not isinstance(value, str):
        raise TypeError(f"{where}: `{key}` must be an activation name; found {value!r}.")
    name = value.lower()
    if opts.legacy and name == "hard_sigmoid":
        return "hard_sigmoid_tf2"  # TF-Keras 2's clip(0.2 * x + 0.5, 0, 1), not Keras 3's relu6(x + 3) / 6
    if name in activations.ACTIVATIONS:
        return name
    fn = _custom_object(value, None, where, opts, "activation")
    if fn is None:
        _fail(f"{where}: unknown activation {value!r} in `{key}`; rnnlab knows {sorted(activations.ACTIVATIONS)}.")
    return fn


def _initializer(value, key, where):
    """Initializers only shape fresh weights (loading overwrites them): a well-formed one that rnnlab lacks
    falls back to the layer's default with a warning; a malformed one is refused."""
    if value is None or isinstance(value, str):
        candidate = value
    elif isinstance(value, dict):
        cls = value.get("class_name")
        inner = value.get("config", {})
        if not isinstance(cls, str):
            _fail(f"{where}: `{key}` has no class name: {value!r}.")
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise TypeError(f"{where}: the config of `{key}` must be a dict; found {inner!r}.")
        inner = {k: v for k, v in inner.items() if k != "dtype"}
        for arg, number in inner.items():
            if isinstance(number, float) and not math.isfinite(number):
                _fail(f"{where}: `{key}` has the non-finite argument {arg}={number!r}.")
        if cls == "VarianceScaling" and inner.get("distribution") == "normal":
            inner["distribution"] = "truncated_normal"  # TF-Keras 2's old spelling
        candidate = {"class_name": cls, "config": inner}
    else:
        raise TypeError(f"{where}: `{key}` must be an initializer name or config; found {value!r}.")
    try:
        initializers.get(candidate, key)
        return candidate, True
    except (TypeError, ValueError):
        warnings.warn(f"{where}: initializer {value!r} in `{key}` is not available in rnnlab; using the default "
                      "(it only affects fresh weights, not loaded ones).", stacklevel=4)
        return None, False


def _penalty_or_projection(value, key, where, opts):
    """A ``*_regularizer`` or ``*_constraint`` argument: a built-in one by name or config, or a class the caller
    supplied (``custom_objects``, a registered class); anything else is refused, never dropped."""
    module, kind = (regularizers, "regularizer") if key.endswith("_regularizer") else (constraints, "constraint")
    if value is None or isinstance(value, str):
        try:
            return module.get(value, key)
        except ValueError as exc:
            raise ValueError(f"Cannot load {where}: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise TypeError(f"{where}: `{key}` must be a {kind} name or config; found {value!r}.")
    name = value["class_name"]
    if name in module._CLASSES:
        return module.deserialize(value)
    custom = _custom_object(name, value.get("registered_name"), where, opts, kind)
    if custom is None:
        _fail(f"{where}: `{key}` is the {kind} {name!r}, which rnnlab does not have (it has "
              f"{sorted(module._CLASSES)}); pass your class in custom_objects or register it.")
    return module.deserialize(value, custom_objects={name: custom})


def _check_size(value, key, where, opts):
    if isinstance(value, bool) or not isinstance(value, int):
        return
    if opts.max_elements is not None and value > opts.max_elements:
        _fail(f"{where}: `{key}`={value} is larger than the weights file could hold; the file is corrupted.")


def _legacy_rename(class_name, config, legacy):
    """Argument names and defaults of TF-Keras 2 / Keras 2 (and Keras 1-style shapes), as Keras 3 spells them."""
    if class_name == "InputLayer":
        if "batch_input_shape" in config and "batch_shape" not in config:
            config["batch_shape"] = config.pop("batch_input_shape")
    if not legacy:
        return config
    if class_name in ("GRU", "GRUCell") and "reset_after" not in config:
        config["reset_after"] = False  # Keras 2.0-2.2 GRUs predate reset_after (and meant False)
    if class_name in ("LSTM", "GRU", "SimpleRNN", "RNN") and "input_dim" in config and \
            "batch_input_shape" not in config and "input_shape" not in config:
        # Keras 1 style: input_dim (features) and input_length (time steps) on the first recurrent layer
        dim, length = config.pop("input_dim"), config.pop("input_length", None)
        if dim is not None:
            config["batch_input_shape"] = [config.pop("batch_size", None), length, dim]
    return config


def deserialize_layer_config(entry, opts: KerasLoadOptions):
    """Create one rnnlab layer (or nested model) from a Keras layer entry ``{"class_name", "config", ...}``."""
    if not isinstance(entry, dict):
        raise TypeError(f"A layer entry must be a dict with 'class_name' and 'config'; found {entry!r}.")
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        _fail(f"A layer entry has no class name: {str(entry)[:200]}.")
    config = entry.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"The config of a {class_name} layer must be a dict; found {type(config).__name__}.")
    where = _where(config, class_name)
    if class_name in _MODEL_CLASSES:
        return deserialize_model(entry, opts)
    module = entry.get("module")
    # a legacy .h5 config names no modules: there an operation is known by its class name alone
    is_op = module.startswith("keras.src.ops") if isinstance(module, str) else class_name in KerasOp.ALL
    if is_op:
        if class_name not in KerasOp.ALL:
            _fail(f"The Keras operation {class_name!r} ({config.get('name')!r}) in the model graph is not supported "
                  f"by rnnlab (it runs only {list(KerasOp.ALL)}).")
        try:
            return KerasOp(class_name, config, module or "keras.src.ops.numpy")
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Cannot load {where}: {exc}") from None
    class_name = _CLASS_ALIASES.get(class_name, class_name)
    if isinstance(opts.custom_objects.get(class_name), type):  # the program's class wins, as in Keras
        return _custom_layer(opts.custom_objects[class_name], config, where)
    if class_name not in _LAYER_CLASSES:
        cls = _custom_object(class_name, entry.get("registered_name"), where, opts, "layer class")
        if cls is None:
            _fail(f"{where[0].upper() + where[1:]}: rnnlab does not support the layer class {class_name!r}.")
        return _custom_layer(cls, config, where)
    config = _legacy_rename(class_name, dict(config), opts.legacy)
    return _build_builtin(_LAYER_CLASSES[class_name], class_name, config, where, opts)


def _custom_layer(cls, config, where):
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"{where}: custom_objects must map layer class names to rnnlab Layer subclasses; "
                        f"found {cls!r}.")
    try:
        return cls.from_config(dict(config))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _build_builtin(cls, class_name, config, where, opts):
    nested = {}
    if class_name == "Bidirectional":
        if "layer" not in config:
            _fail(f"{where}: the config has no `layer`.")
        nested["layer"] = deserialize_layer_config(config.pop("layer"), opts)
        backward = config.pop("backward_layer", None)
        nested["backward_layer"] = None if backward is None else deserialize_layer_config(backward, opts)
    elif class_name == "TimeDistributed":
        if "layer" not in config:
            _fail(f"{where}: the config has no `layer`.")
        nested["layer"] = deserialize_layer_config(config.pop("layer"), opts)
    elif class_name == "RNN":
        cell = config.pop("cell", None)
        if isinstance(cell, list):
            nested["cell"] = [deserialize_layer_config(c, opts) for c in cell]
        elif isinstance(cell, dict):
            nested["cell"] = deserialize_layer_config(cell, opts)
        else:
            _fail(f"{where}: the config has no readable `cell`.")
        if config.pop("constants", None) is not None:
            _fail(f"{where}: RNN constants are not supported by rnnlab.")
    elif class_name == "StackedRNNCells":
        cells = config.pop("cells", None)
        if not isinstance(cells, list) or not cells:
            _fail(f"{where}: the config has no list of `cells`.")
        nested["cells"] = [deserialize_layer_config(c, opts) for c in cells]

    for key in _ALWAYS_DROPPED:
        config.pop(key, None)
    for key, neutral in _NEUTRAL.items():
        if key in config:
            value = config.pop(key)
            if class_name == "InputLayer" and key == "sparse":
                config["sparse"] = value  # InputLayer explains sparse inputs itself
            elif not any(value is n or (value == n and type(value) is type(n)) for n in neutral):
                if key == "time_major":
                    _fail(f"{where} is time-major (inputs shaped (time, batch, features)); rnnlab supports "
                          "batch-major recurrent layers only.")
                _fail(f"{where}: `{key}`={value!r} is not supported by rnnlab.")
    if class_name not in ("LSTM", "GRU"):
        config.pop("use_cudnn", None)
    if "dtype" in config:
        dtype = config.pop("dtype")
        if class_name in ("InputLayer", "Hashing"):  # (a Hashing layer's dtype is its output's: int64...)
            config["dtype"] = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
        else:
            name = _dtype_name(dtype, where)
            if name is not None:
                config["dtype"] = name
    for key in ("activation", "recurrent_activation"):
        if key in config:
            config[key] = _activation(config[key], key, where, opts)
    for key in _INITIALIZER_KEYS:
        if key in config:
            value, ok = _initializer(config[key], key, where)
            if ok:
                config[key] = value
            else:
                config.pop(key)
    for key in [k for k in config if k.endswith(("_regularizer", "_constraint"))]:
        config[key] = _penalty_or_projection(config[key], key, where, opts)
    for key in _SIZE_KEYS:
        if key in config:
            _check_size(config[key], key, where, opts)
    if class_name in _RECURRENT and isinstance(config.get("units"), int) and opts.max_elements is not None:
        _check_size(config["units"] ** 2, "units", where, opts)
    if class_name == "Embedding" and all(isinstance(config.get(k), int) for k in ("input_dim", "output_dim")):
        _check_size(config["input_dim"] * config["output_dim"], "input_dim * output_dim", where, opts)
    if class_name == "Masking" and "mask_value" in config:
        mv = config["mask_value"]
        if isinstance(mv, bool) or not isinstance(mv, (int, float)):
            raise TypeError(f"{where}: `mask_value` must be a number; found {mv!r}.")
    if class_name in _LOOKUPS:
        _lookup_config(class_name, config, where, opts)
    if class_name == "Dropout" and isinstance(config.get("noise_shape"), list):
        config["noise_shape"] = tuple(config["noise_shape"])
    if "name" in config and not isinstance(config["name"], str):
        raise TypeError(f"{where}: `name` must be a string; found {config['name']!r}.")
    _check_arguments(cls, class_name, config, where)
    try:
        if class_name == "Bidirectional":
            return cls(nested["layer"], backward_layer=nested["backward_layer"], **config)
        if class_name == "TimeDistributed":
            return cls(nested["layer"], **config)
        if class_name == "RNN":
            return cls(nested["cell"], **config)
        if class_name == "StackedRNNCells":
            return cls(nested["cells"], **config)
        if class_name == "Lambda":  # its functions come only from the program (never from the file)
            return cls.from_config(config, custom_objects=opts.custom_objects)
        return cls.from_config(config)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Cannot load {where}: {exc}") from None
    except (OverflowError, MemoryError) as exc:
        raise ValueError(f"Cannot load {where}: {type(exc).__name__}: {exc}") from None


def _lookup_config(class_name, config, where, opts):
    """A lookup layer's file-specific arguments: a vocabulary file path outside the archive is read only with
    safe_mode=False (as in Keras); a callable ``standardize``/``split`` must be one the program supplied
    (``custom_objects`` or a registered function): the file only names it."""
    if isinstance(config.get("vocabulary"), str) and opts.safe_mode:
        _fail(f"{where}: its `vocabulary` is the path {config['vocabulary']!r} of a file outside the archive; "
              "reading it is refused while safe_mode=True. Pass safe_mode=False if you trust this file.")
    for key in ("standardize", "split"):
        value = config.get(key)
        if value is None or isinstance(value, str):
            continue
        name = value.get("config") if isinstance(value, dict) else None
        if isinstance(value, dict) and value.get("class_name") == "__lambda__":
            _fail(f"{where}: `{key}` is a Python lambda stored as code; rnnlab never runs code from a file.")
        if not isinstance(name, str):
            _fail(f"{where}: `{key}` must be a mode name or a registered function; found {str(value)[:200]}.")
        fn = _custom_object(name, value.get("registered_name"), where, opts, "function")
        if fn is None:
            _fail(f"{where}: `{key}` is the custom function {name!r}, which rnnlab does not have; pass it in "
                  "custom_objects (or register it) to load this layer.")
        config[key] = fn


def _check_arguments(cls, class_name, config, where):
    """Every remaining argument must be one the rnnlab class takes; an unknown one is refused, never ignored."""
    accepted = set(Layer._KNOWN_BASE_KWARGS) | {"name", "dtype", "trainable"}
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters
            accepted |= {p for p, v in params.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
    accepted |= set(getattr(cls, "_config_only_keys", ()))
    accepted -= {"self", "layer", "backward_layer", "cell", "cells"}
    unknown = sorted(k for k in config if k not in accepted)
    if unknown:
        _fail(f"{where[0].upper() + where[1:]} has argument(s) {unknown} that rnnlab's {class_name} does not "
              "support.")


# =====================================================================================================
# reading: models
# =====================================================================================================

def deserialize_model(obj, opts: KerasLoadOptions | None = None):
    """An rnnlab model from a Keras model dict ``{"class_name": "Functional"|"Sequential"|"Model", "config"}``."""
    opts = opts or KerasLoadOptions()
    if not isinstance(obj, dict):
        raise TypeError(f"A model config must be a JSON object; found {type(obj).__name__}.")
    class_name = obj.get("class_name")
    config = obj.get("config")
    if class_name == "Sequential" and isinstance(config, list):
        config = {"layers": config}  # Keras <= 2.2.4 wrote a Sequential config as its list of layers
    if not isinstance(config, dict):
        _fail(f"The model config has no `config` object (class {class_name!r}).")
    if class_name == "Sequential":
        return _sequential_from_config(config, opts)
    if class_name in ("Functional", "Model"):
        if not all(k in config for k in ("layers", "input_layers", "output_layers")):
            _fail(f"The {class_name} config lacks layers/input_layers/output_layers: it is a subclassed model, "
                  "which cannot be rebuilt without its Python code.")
        return _functional_from_config(config, opts)
    if isinstance(class_name, str):
        cls = _custom_object(class_name, obj.get("registered_name"), f"model class {class_name!r}", opts,
                             "model class")
        if cls is not None:
            return _custom_layer(cls, config, f"model {config.get('name')!r} ({class_name})")
    _fail(f"Cannot rebuild a model of class {class_name!r}: rnnlab reads Functional and Sequential models.")


def _sequential_from_config(config, opts):
    entries = config.get("layers")
    if not isinstance(entries, list):
        _fail("The Sequential config has no list of `layers`.")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"The Sequential model name must be a string; found {name!r}.")
    layers = [deserialize_layer_config(e, opts) for e in entries]
    model = Sequential(name=name, trainable=bool(config.get("trainable", True)))
    for i, layer in enumerate(layers):
        if isinstance(layer, InputLayer) and i > 0:
            _fail(f"The Sequential config has an InputLayer at position {i}; it may only come first.")
        model.add(layer, rebuild=False)
    try:
        model._maybe_rebuild()
        shape = config.get("build_input_shape")
        if not model.built and isinstance(shape, list) and shape and model.layers:
            model.build(tuple(shape))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Cannot rebuild Sequential model {name!r}: {exc}") from None
    except (KeyError, IndexError, AttributeError, OverflowError, MemoryError) as exc:
        raise ValueError(f"Cannot rebuild Sequential model {name!r}: {type(exc).__name__}: {exc}") from None
    return model  # unbuilt when the config has no input shape (a weights file then cannot be loaded into it)


def _resolve(ref, created, opts, where, io_ref=False):
    """The symbolic tensor ``[layer name, node index, tensor index]`` refers to, or IndexError if not yet made.

    A functional sub-model's calls are numbered from 1 in Keras 3's ``input_layers``/``output_layers`` (and
    everywhere in TF-Keras 2), whose models kept their own graph as call 0; rnnlab keeps no such call."""
    if not (isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in ref[1:3])):
        _fail(f"{where}: malformed tensor reference {ref!r}.")
    name, node_index, tensor_index = ref[0], ref[1], ref[2]
    if name not in created:
        _fail(f"{where}: refers to layer {name!r}, which the config does not define.")
    layer = created[name]
    if isinstance(layer, Model) and (opts.legacy or (io_ref and not isinstance(layer, Sequential))):
        node_index -= 1  # Keras reserves node 0 of a functional sub-model for its own graph
    if node_index < 0 or tensor_index < 0:
        _fail(f"{where}: invalid node/tensor index in {ref!r}.")
    if node_index >= len(layer._inbound_nodes):
        raise IndexError(name)
    outputs = nest.flatten(layer._inbound_nodes[node_index].outputs)
    if tensor_index >= len(outputs):
        _fail(f"{where}: layer {name!r} has {len(outputs)} output(s); the config asks for output {tensor_index}.")
    return outputs[tensor_index]


def _revive(value, created, opts, where):
    """Node arguments: ``__keras_tensor__`` dicts become the symbolic tensors they name; JSON stays as is."""
    if isinstance(value, list):
        return [_revive(v, created, opts, where) for v in value]
    if isinstance(value, dict):
        cls = value.get("class_name")
        if cls == "__keras_tensor__":
            inner = value.get("config")
            if not isinstance(inner, dict):
                _fail(f"{where}: malformed tensor {value!r}.")
            return _resolve(inner.get("keras_history"), created, opts, where)
        if isinstance(cls, str) and "config" in value:
            _fail(f"{where}: an argument of class {cls!r} is not supported (only tensors and plain values).")
        return {k: _revive(v, created, opts, where) for k, v in value.items()}
    return value


_TENSOR_KWARGS = ("initial_state", "mask")


def _node_call(layer, node, created, opts, where):
    """``(args, kwargs)`` of one recorded call, in Keras 3's or TF-Keras 2's format."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        args = node.get("args", [])
        kwargs = node.get("kwargs", {}) or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            _fail(f"{where}: malformed call record {str(node)[:200]}.")
        args = _revive(args, created, opts, where)
        kwargs = {k: _revive(v, created, opts, where) for k, v in kwargs.items()}
        if not args:
            _fail(f"{where}: a call without inputs.")
    elif isinstance(node, list):  # TF-Keras 2: [[layer, node, tensor, kwargs], ...]
        if not node:
            _fail(f"{where}: a call without inputs.")
        tensors, kwargs = [], {}
        for item in node:
            if not isinstance(item, list) or len(item) not in (3, 4):
                _fail(f"{where}: malformed inbound node entry {item!r}.")
            tensors.append(_resolve(item[:3], created, opts, where))
            if len(item) == 4:
                if not isinstance(item[3], dict):
                    _fail(f"{where}: malformed call arguments {item[3]!r}.")
                kwargs = dict(item[3])
        for key, value in list(kwargs.items()):
            if key in _TENSOR_KWARGS and isinstance(value, list) and value and isinstance(value[0], (str, list)):
                refs = value if isinstance(value[0], list) else [value]
                resolved = [_resolve(r, created, opts, where) for r in refs]
                kwargs[key] = resolved if isinstance(value[0], list) else resolved[0]
        if isinstance(layer, (RNN, Bidirectional)) and len(tensors) > 1:
            args = [tensors[0]]  # TF-Keras 2 folded initial states into the inputs
            kwargs["initial_state"] = tensors[1:]
        else:
            args = [tensors[0] if len(tensors) == 1 else tensors]
    else:
        _fail(f"{where}: malformed call record {node!r}.")
    if kwargs.get("constants") is not None:
        _fail(f"{where}: RNN constants are not supported by rnnlab.")
    for key in ("constants", "mask", "training", "initial_state"):
        if key in kwargs and kwargs[key] in (None, False) and not isinstance(kwargs[key], list):
            del kwargs[key]  # Keras records the defaults; rnnlab supplies them when it runs the graph
    for key in kwargs:
        if not isinstance(key, str):
            _fail(f"{where}: malformed argument name {key!r}.")
    return args, kwargs


def _functional_from_config(config, opts):
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        _fail("The functional model config has no list of `layers`.")
    created, pending, order = {}, {}, []
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError(f"A layer entry must be a dict; found {type(entry).__name__}.")
        name = entry.get("name", (entry.get("config") or {}).get("name") if isinstance(entry.get("config"), dict)
                         else None)
        if not isinstance(name, str):
            _fail(f"A layer entry of the functional model has no name: {str(entry)[:200]}.")
        if name in created:
            _fail(f"The functional model config defines layer {name!r} twice.")
        layer = deserialize_layer_config(entry, opts)
        if layer.name != name:
            layer.name = name  # config entry names win, as Keras does for references
        created[name] = layer
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            _fail(f"Layer {name!r}: `inbound_nodes` must be a list.")
        if isinstance(layer, InputLayer):
            nodes = []
        pending[name] = list(nodes)
        order.append(name)
    # Call the layers in the recorded order; a call whose inputs do not exist yet waits for a later pass.
    while any(pending.values()):
        progressed = False
        for name in order:
            layer = created[name]
            while pending[name]:
                where = f"call {len(layer._inbound_nodes)} of layer {name!r}"
                try:
                    args, kwargs = _node_call(layer, pending[name][0], created, opts, where)
                except IndexError:
                    break
                try:
                    layer(*args, **kwargs)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"Cannot rebuild {where}: {exc}") from None
                except (KeyError, IndexError, AttributeError, OverflowError, MemoryError) as exc:
                    raise ValueError(f"Cannot rebuild {where}: {type(exc).__name__}: {exc}") from None
                pending[name].pop(0)
                progressed = True
        if not progressed:
            stuck = sorted(n for n, p in pending.items() if p)
            _fail(f"The functional model config cannot be rebuilt: the calls of {stuck} wait on tensors that are "
                  "never produced (a cycle or a missing layer).")

    def tensors(spec, what):
        if isinstance(spec, list) and len(spec) >= 3 and isinstance(spec[0], str):
            try:
                return _resolve(spec, created, opts, what, io_ref=True)
            except IndexError:
                _fail(f"{what}: {spec!r} names a layer call that the config does not contain.")
        if isinstance(spec, list):
            return [tensors(s, what) for s in spec]
        if isinstance(spec, dict):
            return {k: tensors(v, what) for k, v in spec.items()}
        _fail(f"{what}: malformed tensor reference {spec!r}.")

    inputs = tensors(config.get("input_layers"), "model inputs")
    outputs = tensors(config.get("output_layers"), "model outputs")
    if isinstance(outputs, dict):
        _fail("Models with named (dict) outputs are not supported by rnnlab.")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"The model name must be a string; found {name!r}.")
    try:
        return Model(inputs, outputs, name=name, trainable=bool(config.get("trainable", True)))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Cannot rebuild functional model {name!r}: {exc}") from None
