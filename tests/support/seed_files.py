"""Valid files from the real writers, as seeds for fuzzing: ``python -m tests.support.seed_files OUTDIR``.

Keras 3 (``.keras``, ``.weights.h5``, legacy ``.h5``), PyTorch (``torch.save`` of a state dict, safetensors),
``torch.onnx.export``, and rnnlab (``.keras``, ``.weights.h5``, ``.weights.npz``, ``.safetensors``, ``.onnx``).
Run as a separate process so that TensorFlow and torch stay out of the test process.  Prints one JSON line
``{file name: kind}``.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _keras(out):
    import keras
    import numpy as np

    inputs = keras.Input((5, 3))
    x = keras.layers.Masking()(inputs)
    x = keras.layers.LSTM(4, return_sequences=True)(x)
    x = keras.layers.GRU(3)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    model.save(os.path.join(out, "keras.keras"))
    model.save_weights(os.path.join(out, "keras.weights.h5"))
    seq = keras.Sequential([keras.Input((5, 3)), keras.layers.SimpleRNN(3), keras.layers.Dense(2)])
    seq.save(os.path.join(out, "keras_legacy.h5"))
    return {"keras.keras": "keras", "keras.weights.h5": "keras_weights", "keras_legacy.h5": "legacy"}


def _torch(out):
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, batch_first=True)
    torch.save(module.state_dict(), os.path.join(out, "torch.pt"))
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, os.path.join(out, "torch.safetensors"))
    torch.onnx.export(module, (torch.zeros(1, 5, 3),), os.path.join(out, "torch.onnx"), dynamo=False,
                      input_names=["x"])
    return {"torch.pt": "torch", "torch.safetensors": "torch", "torch.onnx": "onnx"}


def _rnnlab(out):
    import numpy as np

    import rnnlab
    from rnnlab import convert, layers

    model = rnnlab.Sequential([rnnlab.Input((5, 3)), layers.LSTM(4, name="lstm"), layers.Dense(2, name="head")])
    rng = np.random.default_rng(1)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    model.save(os.path.join(out, "rnnlab.keras"))
    model.save_weights(os.path.join(out, "rnnlab.weights.h5"))
    model.save_weights(os.path.join(out, "rnnlab.weights.npz"))
    convert.convert_file(os.path.join(out, "rnnlab.keras"), os.path.join(out, "rnnlab.safetensors"))
    convert.convert_file(os.path.join(out, "rnnlab.keras"), os.path.join(out, "rnnlab.onnx"))
    return {"rnnlab.keras": "keras", "rnnlab.weights.h5": "rnnlab_weights", "rnnlab.weights.npz": "rnnlab_weights",
            "rnnlab.safetensors": "torch", "rnnlab.onnx": "onnx"}


if __name__ == "__main__":
    folder = sys.argv[1]
    files = {}
    for make in (_keras, _torch, _rnnlab):
        files.update(make(folder))
    print(json.dumps(files))
