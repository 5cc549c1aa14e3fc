"""Global settings, as ``keras.config``: the default float dtype; and rnnlab's own: the native kernels' threads."""
from rnnlab.backend import floatx, set_floatx
from rnnlab.kernels.native import get_num_threads, set_num_threads

__all__ = ["floatx", "set_floatx", "get_num_threads", "set_num_threads"]


def __getattr__(name):
    from rnnlab.tensorflow_names import missing_attribute  # TensorFlow's tf.config.list_physical_devices, ...

    raise missing_attribute(__name__, name)
