"""Models: ``Model`` (functional), ``Sequential``, and ``Input``; ``save_model`` and ``load_model``."""
from rnnlab.layers.input_layer import Input
from rnnlab.models import saving_hook
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Input", "load_model", "save_model", "clone_model", "model_from_json"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a ``.keras`` archive (Keras 3 or rnnlab) or a legacy ``.h5`` model file (TF-Keras 2 / Keras 3).

    See :func:`rnnlab.saving.keras_format.load_model`.
    """
    return saving_hook.file_formats().load_model(filepath, custom_objects=custom_objects, compile=compile,
                                                 safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """``model.save(filepath, ...)``: a ``.keras`` archive, or Keras's legacy HDF5 model for ``.h5``/``.hdf5``.

    See :func:`rnnlab.saving.keras_format.save_model`.
    """
    return saving_hook.file_formats().save_model(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model of the same class and config as ``model``, with fresh weights (drawn by its initializers), as
    Keras's ``clone_model``.  rnnlab clones from the config only: ``input_tensors``, ``clone_function``,
    ``call_function``, ``recursive`` and other keyword arguments are refused by name."""
    given = {"input_tensors": input_tensors, "clone_function": clone_function, "call_function": call_function,
             **kwargs}
    refused = [name for name, value in given.items() if value is not None] + (["recursive"] if recursive else [])
    if refused:
        raise ValueError(f"clone_model in rnnlab clones from the model's config only; it does not support the "
                         f"argument(s) {refused}. Clone with clone_model(model) and rebuild what differs.")
    if not isinstance(model, Model):
        raise TypeError(f"Argument `model` must be a rnnlab Model or Sequential; received {type(model).__name__}.")
    class_name = "Sequential" if isinstance(model, Sequential) else "Functional"
    return saving_hook.file_formats().model_from_config(class_name, model.get_config())


def model_from_json(json_string, custom_objects=None):
    """A model (fresh weights) from the JSON that Keras's ``model.to_json()`` writes; only rnnlab's layers and
    the classes in ``custom_objects`` (or registered) can appear in it: nothing named in the JSON is imported."""
    import json

    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Argument `json_string` must be a model's JSON (model.to_json()); it could not be read "
                         f"({exc}).") from None
    if not isinstance(config, dict) or config.get("class_name") not in ("Functional", "Model", "Sequential"):
        raise ValueError("Argument `json_string` must describe a Functional or Sequential model; received a JSON "
                         f"value with class_name={config.get('class_name') if isinstance(config, dict) else None!r}.")
    class_name = "Sequential" if config["class_name"] == "Sequential" else "Functional"
    return saving_hook.file_formats().model_from_config(class_name, config.get("config") or {}, custom_objects)
