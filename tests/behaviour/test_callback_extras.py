"""LearningRateScheduler and TensorBoard: bad arguments and the missing optional extra (checked before tensorboardX
is imported: it imports PyTorch, which this tier does not load).  What TensorBoard writes is compared with Keras's
event files in tests/frameworks/test_keras_extras_training.py."""
import sys

import numpy as np
import pytest

import rnnlab
from rnnlab import callbacks as C


def _model(seed=0):
    rng = np.random.default_rng(seed)
    model = rnnlab.Sequential([rnnlab.Input((3,)), rnnlab.layers.Dense(2)])
    model.compile(optimizer=rnnlab.optimizers.SGD(0.1), loss="mse")
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    return model, x, y


def test_missing_tensorboardx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"tensorboardX.*pip install rnnlab\[tensorboard\]"):
        C.TensorBoard(log_dir="unused")


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(update_freq=0), ValueError, r"update_freq.*'epoch', 'batch' or an integer >= 1.*0"),
    (dict(update_freq="weekly"), ValueError, r"update_freq.*'weekly'"),
    (dict(histogram_freq=-1), ValueError, r"histogram_freq.*>= 0.*-1"),
    (dict(histogram_freq=1.5), ValueError, r"histogram_freq"),
    (dict(write_graph="yes"), TypeError, r"write_graph.*bool"),
    (dict(write_images=True), ValueError, r"write_images.*not supported"),
    (dict(profile_batch=5), ValueError, r"profile_batch.*profiler.*5"),
    (dict(profile_batch=(2, 4)), ValueError, r"profile_batch"),
    (dict(embeddings_freq=1), ValueError, r"embeddings_freq.*not supported"),
    (dict(embeddings_metadata="meta.tsv"), ValueError, r"embeddings_metadata"),
    (dict(log_dir=3), TypeError, r"log_dir"),
])
def test_tensorboard_bad_arguments(tmp_path, kwargs, exc, pattern):
    kwargs.setdefault("log_dir", str(tmp_path))
    with pytest.raises(exc, match=pattern):
        C.TensorBoard(**kwargs)


def test_learning_rate_scheduler_bad_arguments_and_outputs():
    with pytest.raises(TypeError, match=r"schedule.*callable.*0\.1"):
        C.LearningRateScheduler(0.1)
    with pytest.raises(TypeError, match=r"verbose.*integer"):
        C.LearningRateScheduler(lambda e, lr: lr, verbose="loud")
    model, x, y = _model()
    with pytest.raises(ValueError, match=r"schedule.*should be a float.*Got: 1"):
        model.fit(x, y, verbose=0, callbacks=[C.LearningRateScheduler(lambda epoch, lr: 1)])
    model.compile(optimizer=rnnlab.optimizers.SGD(rnnlab.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
                  loss="mse")
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        model.fit(x, y, verbose=0, callbacks=[C.LearningRateScheduler(lambda epoch, lr: 0.01)])


def test_fit_validation_calls_the_test_hooks_as_keras():
    """As Keras's fit, validation runs the on_test_* hooks of the fit's callbacks, with the validation logs."""
    model, x, y = _model()
    seen = []
    hooks = C.LambdaCallback(on_test_begin=lambda logs: seen.append("begin"),
                             on_test_batch_end=lambda batch, logs: seen.append(batch),
                             on_test_end=lambda logs: seen.append(sorted(logs)))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y), validation_batch_size=4,
              callbacks=[hooks])
    assert seen == ["begin", 0, 1, ["loss"]] * 2
