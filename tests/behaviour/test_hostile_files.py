"""Hostile and unlucky files, case by case: each is refused with a ValueError/TypeError naming the file, within
a memory bound (the loader runs in a child process whose address space may grow by at most 1 GiB) or a time
bound (operation counts that must grow linearly; a generous 10 s child limit where a count is not available).

The files are built here, each a few kilobytes, declaring sizes of gigabytes.
"""
import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from tests.support.supervised import run_child

from tests.support.reference import require

GiB = 1 << 30


def _refused(result, *words):
    """The child raised ValueError/TypeError and its message contains ``words``."""
    assert result["outcome"] == "raised", result
    assert result["type"] in ("ValueError", "TypeError"), result
    for word in words:
        assert word in result["message"], (word, result["message"])


def _set_declared_size(archive, member, size):
    """Rewrite the uncompressed size a zip archive declares for ``member`` (central directory and local
    header), leaving its data as it is: a member that claims to inflate to ``size`` bytes."""
    data = bytearray(archive)
    name = member.encode()
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + n]) == name:
            struct.pack_into("<L", data, pos + 24, size)
            local = struct.unpack_from("<L", data, pos + 42)[0]
            struct.pack_into("<L", data, local + 22, size)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


def _keras_with_config(tmp_path, model, edit, compression=zipfile.ZIP_STORED):
    """Save ``model`` as .keras, then replace its config.json by ``edit(config)``."""
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _small_dense():
    return rnnlab.Sequential([rnnlab.Input((6, 10)), layers.Dense(16, name="d")], name="small")


# ----------------------------------------------------------------------------------------------- memory

@pytest.mark.parametrize("features", [10 ** 8, 10 ** 10])
def test_input_shape_beyond_the_stored_weights_is_refused_before_building(tmp_path, features):
    def edit(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 6, features]
    path = _keras_with_config(tmp_path, _small_dense(), edit)
    assert path.stat().st_size < 20_000
    _refused(run_child(f"rnnlab.models.load_model({str(path)!r})"), str(path), "numbers")


def test_huge_dense_layers_are_refused_before_building(tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["units"] = 15000
        config["config"]["layers"].append(json.loads(json.dumps(config["config"]["layers"][1])))
        config["config"]["layers"][2]["config"]["name"] = "d2"
    path = _keras_with_config(tmp_path, _small_dense(), edit)
    _refused(run_child(f"rnnlab.models.load_model({str(path)!r})"), str(path), "the weights file could hold")


def test_stateful_batch_beyond_the_allowance_is_refused(tmp_path):
    model = rnnlab.Sequential([rnnlab.Input((3, 2), batch_size=4), layers.LSTM(3, stateful=True, name="l")])

    def edit(config):
        config["config"]["layers"][0]["config"]["batch_shape"][0] = 10 ** 9
    _refused(run_child(f"rnnlab.models.load_model({str(_keras_with_config(tmp_path, model, edit))!r})"),
             "stateful")


def _bomb_keras(tmp_path, declared):
    """A .keras whose weights member is deflated and declares ``declared`` bytes."""
    path = _keras_with_config(tmp_path, _small_dense(), lambda c: None, compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members["model.weights.h5"] += bytes(64 << 20)  # 64 MiB of zeros: a real, well-compressing bomb
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = buffer.getvalue() if declared is None else _set_declared_size(buffer.getvalue(), "model.weights.h5",
                                                                         declared)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("declared", [None, 2_600_000_000])
def test_weights_member_bomb_is_refused_before_inflating(tmp_path, declared):
    path = _bomb_keras(tmp_path, declared)
    assert path.stat().st_size < 1 << 20
    for call in (f"rnnlab.models.load_model({str(path)!r})", f"rnnlab.convert.describe_file({str(path)!r})"):
        _refused(run_child(call, memory_bytes=256 << 20), "decompression bomb")


def test_npz_member_declaring_gigabytes_is_not_inflated(tmp_path):
    model = _small_dense()
    path = tmp_path / "w.weights.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (750_000_000,)})
    arrays = {w.path + ".npy": None for w in model.weights}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in arrays:
            z.writestr(name, header.getvalue() + bytes(1 << 20))
    declared = len(header.getvalue()) + 3_000_000_000
    data = buffer.getvalue()
    for name in arrays:
        data = _set_declared_size(data, name, declared)
    path.write_bytes(data)
    setup = "import rnnlab\nfrom rnnlab import layers\n" \
            "m = rnnlab.Sequential([rnnlab.Input((6, 10)), layers.Dense(16, name='d')], name='small')"
    _refused(run_child(f"m.load_weights({str(path)!r})", setup=setup, memory_bytes=256 << 20), str(path),
             "does not match")
    text = run_child(f"print(rnnlab.convert.describe_file({str(path)!r}))", memory_bytes=256 << 20)
    assert text["outcome"] == "ok", text  # the headers describe it without reading a byte of data


def test_config_with_millions_of_values_is_refused_before_parsing(tmp_path):
    path = _keras_with_config(tmp_path, _small_dense(), lambda c: None, compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members["config.json"] = b"[" + b"{}," * 20_000_000 + b"{}]"  # 60 MB, 20 million dicts
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in members.items():
            z.writestr(name, data)
    _refused(run_child(f"rnnlab.models.load_model({str(path)!r})", memory_bytes=512 << 20), "JSON values")


def test_config_declaring_hundreds_of_megabytes_is_refused_before_reading(tmp_path):
    path = _keras_with_config(tmp_path, _small_dense(), lambda c: None, compression=zipfile.ZIP_DEFLATED)
    path.write_bytes(_set_declared_size(path.read_bytes(), "config.json", 228_000_000))
    _refused(run_child(f"rnnlab.models.load_model({str(path)!r})", memory_bytes=256 << 20), "more than")


def _onnx_model(onnx, nodes, initializers, inputs, outputs):
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnx_external_data_longer_than_its_dims_is_not_read(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [4], np.zeros(4, np.float32))
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "w.bin"), ("offset", "0"), ("length", str(3_000_000_000))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    model = _onnx_model(onnx, [helper.make_node("Add", ["x", "w"], ["y"])], [w], [x], [y])
    with open(tmp_path / "w.bin", "wb") as f:
        f.truncate(3_000_000_000)  # sparse: no disk used
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    setup = "import rnnlab.convert, onnx"
    _refused(run_child(f"rnnlab.convert.from_onnx({str(path)!r}, check=False)", setup=setup,
                       memory_bytes=512 << 20), "length", "16")

    for location in ("../outside.bin", "/etc/passwd"):  # and never outside the model's folder
        w.external_data[0].value = location
        path.write_bytes(_onnx_model(onnx, [helper.make_node("Add", ["x", "w"], ["y"])], [w], [x], [y])
                         .SerializeToString())
        with pytest.raises(ValueError, match="inside the model's folder"):
            rnnlab.convert.from_onnx(str(path), check=False)


def test_onnx_constant_of_shape_beyond_the_limit_is_refused(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    shape = helper.make_tensor("s", TensorProto.INT64, [1], [2 ** 31])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"]), helper.make_node("Add", ["x", "c"], ["y"])]
    path = tmp_path / "m.onnx"
    path.write_bytes(_onnx_model(onnx, nodes, [shape], [x], [y]).SerializeToString())
    assert path.stat().st_size < 300
    setup = "import numpy as np, rnnlab.convert"
    _refused(run_child(f"rnnlab.convert.from_onnx({str(path)!r}).predict(np.ones(1, np.float32))", setup=setup,
                       memory_bytes=512 << 20), "MAX_ELEMENTS", str(path))


# ----------------------------------------------------------------------------------------------- time

def test_safetensors_duplicate_key_check_is_linear(tmp_path):
    path = tmp_path / "many.safetensors"
    header = {f"t{i}": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(40_000)}
    text = json.dumps(header).encode()
    text = text[:-1] + b', "t0": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'  # one duplicate
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(4 * 40_000))
    _refused(run_child(f"rnnlab.convert.load_safetensors({str(path)!r})", setup="import rnnlab.convert",
                       timeout=10), "duplicate", str(path))


class _CountingNode:
    """A stand-in for an ONNX NodeProto that counts how often its inputs are looked at and it is compared."""
    reads = 0

    def __init__(self, inputs, outputs):
        self._input, self.output = inputs, outputs

    @property
    def input(self):
        _CountingNode.reads += 1
        return self._input

    def __eq__(self, other):
        _CountingNode.reads += 1
        return self is other

    __hash__ = object.__hash__


def _chain_work(n):
    from rnnlab.convert.onnx_import.interpreter import order_nodes

    # a chain listed backwards: the worst case for repeated scans
    nodes = [_CountingNode([f"t{i}"], [f"t{i + 1}"]) for i in reversed(range(n))]
    _CountingNode.reads = 0
    plan = order_nodes(nodes, {"t0", ""}, [f"t{n}"], "graph")
    assert [p.output[0] for p in plan] == [f"t{i + 1}" for i in range(n)]
    return _CountingNode.reads


def test_onnx_node_ordering_is_linear():
    small, large = _chain_work(2000), _chain_work(8000)
    assert large <= 4.5 * small, (small, large)  # quadratic would be 16x


# ----------------------------------------------------------------------------------------------- one error type

def test_deep_safetensors_header(tmp_path):
    path = tmp_path / "deep.safetensors"
    text = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    for fn in (rnnlab.convert.load_safetensors, rnnlab.convert.describe_file):
        with pytest.raises(ValueError, match="nested too deeply") as info:
            fn(str(path))
        assert str(path) in str(info.value)


def test_safetensors_shape_too_big_for_numpy(tmp_path):
    path = tmp_path / "big.safetensors"
    text = json.dumps({"w": {"dtype": "F32", "shape": [0, 2 ** 62], "data_offsets": [0, 0]}}).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(ValueError, match=r"too large for an array") as info:
        rnnlab.convert.load_safetensors(str(path))
    assert str(path) in str(info.value)


def _npz(path, members, compress_type=None, flag_bits=0):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        pos = data.find(signature)
        while pos != -1:  # forge what zipfile cannot write: another method number or the encryption flag
            struct.pack_into("<H", data, pos + flags_at, struct.unpack_from("<H", data, pos + flags_at)[0] | flag_bits)
            if compress_type is not None:
                struct.pack_into("<H", data, pos + flags_at + 2, compress_type)
            pos = data.find(signature, pos + 4)
    path.write_bytes(bytes(data))


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("case", ["not_npy", "damaged_header", "unknown_compression", "encrypted"])
def test_damaged_npz(tmp_path, case):
    model = _small_dense()
    path = tmp_path / "w.weights.npz"
    members = {w.path + ".npy": _npy(w.numpy()) for w in model.weights}
    first = next(iter(members))
    if case == "not_npy":
        members[first.replace(".npy", ".txt")] = members.pop(first)
    if case == "damaged_header":
        members[first] = members[first].replace(b"'descr': '<f4'", b"'descr': '<f4 (((")
    _npz(path, members, compress_type=99 if case == "unknown_compression" else None,
         flag_bits=1 if case == "encrypted" else 0)
    for fn in (model.load_weights, rnnlab.convert.describe_file):
        with pytest.raises(ValueError) as info:
            fn(str(path))
        assert str(path) in str(info.value)


def test_infinite_initializer_bound(tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["kernel_initializer"] = {
            "class_name": "RandomUniform", "config": {"minval": float("-inf"), "maxval": float("inf")}}
    path = _keras_with_config(tmp_path, _small_dense(), edit)
    with pytest.raises(ValueError, match="non-finite") as info:
        rnnlab.models.load_model(path)
    assert str(path) in str(info.value)


def test_onnx_constant_without_value(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    for attrs in ({}, {"value_float": 1.0, "value_int": 2}):
        node = helper.make_node("Constant", [], ["y"], **attrs)
        path = tmp_path / "c.onnx"
        path.write_bytes(_onnx_model(onnx, [node], [], [], [y]).SerializeToString())
        with pytest.raises(ValueError, match="Constant") as info:
            rnnlab.convert.from_onnx(str(path), check=False)
        assert str(path) in str(info.value)


def test_refused_pickle_gets_rnnlabs_message(tmp_path):
    torch = require("torch")
    path = tmp_path / "module.pt"
    torch.save(torch.nn.LSTM(2, 3), path)  # a whole module: a pickled class, refused by weights_only loading
    for fn in (rnnlab.convert.from_torch, rnnlab.convert.describe_file):
        with pytest.raises(ValueError, match="never runs code") as info:
            fn(str(path))
        assert "weights_only" not in str(info.value)


def test_damaged_weights_h5_in_describe_and_cli(tmp_path, capsys):
    """HDF5's own structures (object headers, B-trees, heaps) damaged one after another: describe_file says
    which file is bad, and ``rnnlab info`` prints one line."""
    from rnnlab import cli

    require("h5py")
    path = tmp_path / "w.weights.h5"
    _small_dense().save_weights(path)
    original = path.read_bytes()
    refused = 0
    for start in range(0, min(len(original), 4096), 48):
        damaged = bytearray(original)
        damaged[start:start + 8] = b"\xff" * 8
        path.write_bytes(bytes(damaged))
        try:
            rnnlab.convert.describe_file(str(path))
        except ValueError as exc:
            assert str(path) in str(exc), exc
            refused += 1
        assert cli.main(["info", str(path)]) in (0, 1)
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    assert refused > 0


# ----------------------------------------------------------------------------------------------- messages

def test_flat_sequential_of_a_thousand_layers_loads(tmp_path):
    model = rnnlab.Sequential([rnnlab.Input((3,))] + [layers.Dropout(0.1) for _ in range(998)] + [layers.Dense(2)])
    model.save(tmp_path / "flat.keras")
    loaded = rnnlab.models.load_model(tmp_path / "flat.keras")
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    np.testing.assert_array_equal(loaded(x), model(x))


# ----------------------------------------------------------------------------------------------- saves

@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_file_mode_follows_umask_and_is_kept(tmp_path, umask):
    model = _small_dense()
    old = os.umask(umask)
    try:
        for name in ("m.keras", "w.weights.h5", "w.weights.npz"):
            path = tmp_path / name
            (model.save if name.endswith(".keras") else model.save_weights)(path)
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask, (name, oct(path.stat().st_mode))
            os.chmod(path, 0o640)
            (model.save if name.endswith(".keras") else model.save_weights)(path)
            assert path.stat().st_mode & 0o777 == 0o640, name
    finally:
        os.umask(old)


def test_symlink_target_is_written_through(tmp_path):
    model = _small_dense()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.keras"
    model.save(target)
    link = tmp_path / "m.keras"
    link.symlink_to(target)
    model.set_weights([w + 1 for w in model.get_weights()])
    model.save(link)
    assert link.is_symlink()
    loaded = rnnlab.models.load_model(target)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))
    assert sorted(os.listdir(tmp_path / "real")) == ["m.keras"]


_SLOW_WRITER = """
import sys, time
from rnnlab.utils.atomic import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"x" * 100_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _start_writer(path):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(folder):
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_leftovers_of_killed_writers_are_removed_at_the_next_save(tmp_path):
    model = _small_dense()
    killed = _start_writer(tmp_path / "a.keras")
    killed.kill()  # SIGKILL: no cleanup code runs
    killed.wait()
    assert len(_temporaries(tmp_path)) == 1
    alive = _start_writer(tmp_path / "b.keras")
    try:
        model.save(tmp_path / "c.keras")
        left = _temporaries(tmp_path)
        assert len(left) == 1 and f"-{alive.pid}-" in left[0], left  # the live writer's file is untouched
    finally:
        alive.kill()
        alive.wait()
    model.save_weights(tmp_path / "c.weights.npz")
    assert _temporaries(tmp_path) == []
    assert not (tmp_path / "a.keras").exists()
    rnnlab.models.load_model(tmp_path / "c.keras")


def test_a_reused_pid_does_not_hide_a_live_writer(tmp_path):
    import fcntl

    from rnnlab.utils.atomic import remove_stale_temporaries

    leftover = tmp_path / f".m.keras.rnnlab-{2 ** 22 - 7}-0123456789abcdef.tmp"  # a pid that is not running
    leftover.write_bytes(b"x")
    with open(leftover, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # ...but its lock is held: a writer elsewhere (another host, namespace)
        assert remove_stale_temporaries(tmp_path) == []
    assert remove_stale_temporaries(tmp_path) == [leftover.name]
