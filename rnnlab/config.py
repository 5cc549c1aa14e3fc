"""Global settings, as ``keras.config``: the default float dtype; and rnnlab's own: the native kernels' threads."""
from rnnlab.backend import (backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx,
                            set_image_data_format)
from rnnlab.kernels.native import get_num_threads, set_num_threads

__all__ = ["backend", "enable_unsafe_deserialization", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format", "set_image_data_format",
           "get_num_threads", "set_num_threads"]


def enable_unsafe_deserialization():
    """Refused: in Keras it lets ``load_model`` run the Python bytecode of a ``Lambda`` stored in a file. rnnlab
    never runs code from a file; give the function to ``load_model`` in ``custom_objects`` (or register it)."""
    raise ValueError("rnnlab.config.enable_unsafe_deserialization is refused: rnnlab never runs code stored in a "
                     "file (a Lambda's bytecode). Pass the function to load_model(..., custom_objects={name: fn}) "
                     "or register it with rnnlab.saving.register_keras_serializable.")


def __getattr__(name):
    from rnnlab.tensorflow_names import missing_attribute  # TensorFlow's tf.config.list_physical_devices, ...

    raise missing_attribute(__name__, name)
