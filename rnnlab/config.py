"""Global settings, as ``keras.config``: the default float dtype; and rnnlab's own: the native kernels' threads."""
from rnnlab.backend import epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from rnnlab.kernels.native import get_num_threads, set_num_threads

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format", "set_image_data_format",
           "get_num_threads", "set_num_threads"]


def __getattr__(name):
    from rnnlab.tensorflow_names import missing_attribute  # TensorFlow's tf.config.list_physical_devices, ...

    raise missing_attribute(__name__, name)
