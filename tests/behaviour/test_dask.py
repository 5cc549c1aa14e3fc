"""predict, evaluate and fit on dask arrays: without a Client (Dask's local scheduler) and on a real LocalCluster
(two worker processes, one thread each, shared by the module), against the same calls on NumPy arrays."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import rnnlab
from rnnlab.distributed import read_npy
from tests.support.reference import require

da = require("dask.array")
dask = require("dask")
distributed = require("distributed")

MEMORY_LIMIT = 200e6  # bytes per worker (a worker process with rnnlab imported holds about 70 MB)


def _model(kind, seed=0):
    """A small compiled model of ``kind`` with randomised weights (biases included), inputs (B, 7, 3)."""
    rnnlab.random.set_random_seed(seed)
    inputs = rnnlab.Input((7, 3))
    if kind == "lstm":
        hidden = rnnlab.layers.LSTM(5)(inputs)
    elif kind == "gru":
        hidden = rnnlab.layers.GRU(5, reset_after=True)(inputs)
    elif kind == "bidirectional":
        hidden = rnnlab.layers.Bidirectional(rnnlab.layers.LSTM(4), merge_mode="concat")(inputs)
    elif kind == "masked":
        hidden = rnnlab.layers.LSTM(5)(rnnlab.layers.Masking(mask_value=0.0)(inputs))
    elif kind == "dropout":  # unseeded recurrent dropout (keys from the global state), a seeded Dropout layer
        sequences = rnnlab.layers.LSTM(5, dropout=0.3, recurrent_dropout=0.25, return_sequences=True)(inputs)
        hidden = rnnlab.layers.SimpleRNN(4, dropout=0.2)(rnnlab.layers.Dropout(0.3, seed=4)(sequences))
    model = rnnlab.Model(inputs, rnnlab.layers.Dense(2)(hidden))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.compile(rnnlab.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


def _data(n=103, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 7, 3)).astype("float32")
    x[::3, 4:] = 0.0  # padded tails: the masked model skips them
    return x, rng.normal(size=(n, 2)).astype("float32"), rng.uniform(0.5, 2.0, n)


def _fit_both(kind, dask_x, dask_y, dask_callbacks=None, **kwargs):
    """(local model, dask model, local History, dask History) after the same fit (``dask_callbacks`` go to the
    fit on dask arrays only), each fit from the same global random state (the dropout keys of unseeded layers)."""
    x, y, sw = _data()
    local, on_dask = _model(kind), _model(kind)
    fit = dict(batch_size=32, epochs=2, shuffle=False, verbose=0, sample_weight=sw)  # 4 steps an epoch
    fit.update(kwargs)
    val = fit.pop("validation_data", None)
    rnnlab.random.set_random_seed(7)
    h_local = local.fit(x, y, validation_data=val and val[0], **fit)
    rnnlab.random.set_random_seed(7)
    h_dask = on_dask.fit(dask_x(x), dask_y(y), validation_data=val and val[1], callbacks=dask_callbacks, **fit)
    return local, on_dask, h_local.history, h_dask.history


def _assert_same_training(local, on_dask, h_local, h_dask):
    for a, b in zip(local.get_weights(), on_dask.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    assert sorted(h_dask) == sorted(h_local)
    for key in h_local:
        np.testing.assert_allclose(h_dask[key], h_local[key], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- without a Client (Dask's local scheduler)
def test_without_a_client_predict_evaluate_and_fit_match_numpy():
    assert _no_client()
    x, y, _ = _data()
    model = _model("lstm")
    lazy = model.predict(da.from_array(x, chunks=(40, 7, 3)))
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == (40, 40, 23)
    np.testing.assert_array_equal(lazy.compute(), model.predict(x, verbose=0))
    np.testing.assert_allclose(  # the same batches; predictions made in other groupings round alike to 1e-6
        model.evaluate(da.from_array(x, chunks=30), da.from_array(y, chunks=50), batch_size=16, verbose=0),
        model.evaluate(x, y, batch_size=16, verbose=0), rtol=1e-6)
    _assert_same_training(*_fit_both("gru", lambda a: da.from_array(a, chunks=(30, 7, 3)), lambda a: a))


def test_each_chunk_is_read_and_predicted_in_one_task(tmp_path):
    """Dask fuses the read of a chunk into its prediction: no chunk is stored, or sent between workers."""
    x, _, _ = _data()
    np.save(tmp_path / "x.npy", x)
    for model in (_model("lstm"), _two_outputs()):
        lazy = model.predict(read_npy(tmp_path / "x.npy", rows_per_chunk=40))
        for out in lazy if isinstance(lazy, list) else [lazy]:
            graph = dict(out.__dask_optimize__(out.__dask_graph__(), out.__dask_keys__()))
            tasks = [key[0] for key, node in graph.items() if type(node).__name__ == "Task"]
            assert len(tasks) == 3 and not [name for name in tasks if name.startswith("npy")]  # one per chunk
            np.testing.assert_array_equal(out.compute(), out.compute(scheduler="sync"))


def _two_outputs():
    inputs = rnnlab.Input((7, 3))
    sequence, state = rnnlab.layers.GRU(4, return_sequences=True, return_state=True)(inputs)
    return rnnlab.Model(inputs, [sequence, rnnlab.layers.Dense(2)(state)])


def _no_client():
    try:
        distributed.default_client()
    except ValueError:
        return True
    return False


def test_bad_input_is_refused_or_rechunked():
    x, y, _ = _data()
    model = _model("lstm")
    by_time = da.from_array(x, chunks=(50, 2, 3))  # chunks cut sequences: joined again along time
    np.testing.assert_array_equal(model.predict(by_time).compute(), model.predict(x, verbose=0))
    unknown = da.from_array(x, chunks=(50, 7, 3))[da.from_array(np.ones(len(x), bool), chunks=50)]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        model.predict(unknown)
    with pytest.raises(ValueError, match="samples"):
        model.fit(da.from_array(x, chunks=50), da.from_array(y[:-1], chunks=50), verbose=0)
    with pytest.raises(ValueError, match=r"shape \(None, 7, 3\)"):
        model.predict(da.from_array(x[:, :5], chunks=50))
    with pytest.raises(ValueError, match="verbose"):
        model.predict(da.from_array(x, chunks=50), verbose=1)
    stateful = rnnlab.Sequential([rnnlab.Input((7, 3), batch_size=8), rnnlab.layers.LSTM(3, stateful=True)])
    stateful.compile("sgd", "mse")
    for call in (lambda: stateful.predict(da.from_array(x[:96], chunks=32)),
                 lambda: stateful.fit(da.from_array(x[:96], chunks=32), da.from_array(y[:96, :1], chunks=32))):
        with pytest.raises(ValueError, match="stateful.*cannot be split across workers"):
            call()


# ----------------------------------------------------------------- on a LocalCluster
@pytest.fixture(scope="module")
def client():
    quiet = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
             "distributed.admin.system-monitor.interval": "5s"}  # Dask's background work: 0.2 of the 2 cores
    with dask.config.set(quiet):  # while the module runs: a worker restarted after a kill starts with it too
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, memory_limit=MEMORY_LIMIT)
        with distributed.Client(cluster) as c:
            yield c
        cluster.close()


def _builds(client):
    from rnnlab.distributed import worker_model

    return client.run(lambda: worker_model.build_count)


def test_predict_on_the_cluster_is_lazy_equal_and_sends_the_weights_once(client):
    x, _, _ = _data(n=400)
    model = _model("bidirectional")

    def broken(block):
        raise RuntimeError("this chunk was computed")

    lazy = model.predict(da.from_array(x, chunks=(50, 7, 3)).map_blocks(broken, dtype="float32"))
    assert isinstance(lazy, da.Array)  # nothing ran: the broken chunks were never read
    scatters, scatter = [], client.scatter
    client.scatter = lambda data, **kw: scatters.append(len(data)) or scatter(data, **kw)
    try:
        before = _builds(client)
        result = model.predict(da.from_array(x, chunks=(50, 7, 3)), batch_size=16)
        np.testing.assert_array_equal(result.compute(), model.predict(x, batch_size=16, verbose=0))
        after = _builds(client)
    finally:
        del client.scatter
    assert scatters == [2]  # one scatter (the config and the weights), broadcast to every worker
    builds = [after[w] - before[w] for w in after]
    assert sum(builds) >= 1 and max(builds) <= 1  # 8 chunks, at most one model rebuilt per worker
    fetched = client.run(lambda dask_worker: [str(k) for t in dask_worker.transfer_incoming_log for k in t["keys"]])
    assert not any("ModelRecipe" in k or "Weights" in k for keys in fetched.values() for k in keys)


def test_several_outputs_give_a_list_and_evaluate_matches(client):
    x, y, sw = _data()
    model = _two_outputs()
    outputs = model.predict(da.from_array(x, chunks=(40, 7, 3)))
    assert isinstance(outputs, list) and all(isinstance(o, da.Array) for o in outputs)
    for got, want in zip(outputs, model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got.compute(), want)
    single = _model("lstm")
    got = single.evaluate(da.from_array(x, chunks=40), da.from_array(y, chunks=25), sample_weight=sw, batch_size=16,
                          verbose=0, return_dict=True)
    want = single.evaluate(x, y, sample_weight=sw, batch_size=16, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru", "bidirectional", "masked", "dropout"])
def test_fit_on_the_cluster_equals_single_process_fit(client, kind, tmp_path):
    x, y, _ = _data()
    chunks = lambda a: da.from_array(a, chunks=(40,) + a.shape[1:])  # noqa: E731
    y_chunks = lambda a: da.from_array(a, chunks=(25, 2))  # noqa: E731 (x and y chunked differently)
    path = tmp_path / "best.weights.npz"
    checkpoint = rnnlab.callbacks.ModelCheckpoint(str(path), save_weights_only=True)
    local, on_dask, h_local, h_dask = _fit_both(
        kind, chunks, y_chunks, validation_data=((x[:30], y[:30]), (chunks(x[:30]), y_chunks(y[:30]))),
        dask_callbacks=[checkpoint], epochs=1)
    _assert_same_training(local, on_dask, h_local, h_dask)
    if kind == "dropout":  # the masks act: from another global state (other keys), other weights
        other = _model(kind)
        rnnlab.random.set_random_seed(8)
        other.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, sample_weight=_data()[2])
        assert max(np.abs(a - b).max() for a, b in zip(other.get_weights(), local.get_weights())) > 1e-3
    reloaded = _model(kind)
    reloaded.load_weights(str(path))  # written by the client, after the last epoch
    for a, b in zip(reloaded.get_weights(), on_dask.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fit_with_class_weight_shuffle_and_validation_split(client):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 7, 3)).astype("float32")
    labels = rng.integers(0, 3, 90)
    y = np.eye(3, dtype="float32")[labels]

    def classifier():
        rnnlab.random.set_random_seed(5)
        inputs = rnnlab.Input((7, 3))
        model = rnnlab.Model(inputs, rnnlab.layers.Dense(3, activation="softmax")(rnnlab.layers.GRU(4)(inputs)))
        model.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy"])
        return model

    # together too: class weights weigh the training rows only, on both paths (as Keras)
    for fit in (dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5}), dict(validation_split=0.2),
                dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5}, validation_split=0.2)):
        local, on_dask = classifier(), classifier()
        on_dask.set_weights(local.get_weights())
        h_local = local.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, **fit).history
        h_dask = on_dask.fit(da.from_array(x, chunks=(32, 7, 3)), da.from_array(y, chunks=(32, 3)), batch_size=32,
                             epochs=1, shuffle=False, verbose=0, **fit).history
        _assert_same_training(local, on_dask, h_local, h_dask)
    # shuffle=True: each batch gathers its random rows from every chunk; its loss is the mean over those rows
    rnnlab.random.set_random_seed(11)
    shuffled = on_dask.fit(da.from_array(x, chunks=(32, 7, 3)), y, batch_size=45, epochs=1, shuffle=True,
                           verbose=0).history
    assert np.isfinite(shuffled["loss"][0])


def test_a_memmapped_npy_file_larger_than_a_worker_memory_limit(client, tmp_path):
    rows, steps, features = 8000, 16, 512  # 32 KB a sequence: 262 MB in all
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=(rows, steps, features))
    for start in range(0, rows, 1000):
        big[start:start + 1000] = np.random.default_rng(start).random((1000, steps, features), dtype=np.float32)
    big.flush()
    assert big.nbytes > MEMORY_LIMIT
    inputs = rnnlab.Input((steps, features))
    model = rnnlab.Model(inputs, rnnlab.layers.SimpleRNN(2)(inputs))
    summed = model.predict(read_npy(path, rows_per_chunk=250)).sum(axis=0).compute()
    expected = sum(model.predict(np.asarray(big[s:s + 1000]), verbose=0).astype(np.float64).sum(axis=0)
                   for s in range(0, rows, 1000))
    np.testing.assert_allclose(summed, expected, rtol=1e-4)


# ----------------------------------------------------------------- faults (last: they restart a worker)
def _kill_one_worker(client):
    pids = client.run(os.getpid)
    os.kill(sorted(pids.values())[0], signal.SIGKILL)
    return sorted(pids.values())[0]


def test_a_worker_killed_mid_predict_costs_time_not_results(client):
    client.wait_for_workers(2)
    x, _, _ = _data(n=3000)
    model = _model("lstm")
    lazy = client.persist(model.predict(da.from_array(x, chunks=(100, 7, 3)), batch_size=25))
    futures = distributed.futures_of(lazy)
    while sum(f.done() for f in futures) < 3:
        time.sleep(0.005)
    assert sum(f.done() for f in futures) < len(futures)  # killed mid-predict
    killed = _kill_one_worker(client)
    np.testing.assert_array_equal(lazy.compute(), model.predict(x, batch_size=25, verbose=0))
    client.wait_for_workers(2)
    assert killed not in client.run(os.getpid).values()


def test_a_worker_killed_mid_epoch_costs_time_not_results(client):
    client.wait_for_workers(2)
    killed = []

    class KillDuringStep(rnnlab.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3 and not killed:  # the kill lands while step 3's parts run
                threading.Timer(0.002, lambda: killed.append(_kill_one_worker(client))).start()

    chunks = lambda a: da.from_array(a, chunks=(40,) + a.shape[1:])  # noqa: E731
    local, on_dask, h_local, h_dask = _fit_both("dropout", chunks, chunks, dask_callbacks=[KillDuringStep()])
    assert killed
    _assert_same_training(local, on_dask, h_local, h_dask)  # the rerun parts drew the same dropout masks


def test_state_updating_layers_are_refused_on_a_cluster(client):
    """BatchNormalization updates its moving statistics while it trains: each worker would update its own copy,
    so fit on a cluster refuses the model rather than lose the updates."""
    x, y, _ = _data()
    model = rnnlab.Sequential([rnnlab.Input((7, 3)), rnnlab.layers.LSTM(4, return_sequences=True),
                               rnnlab.layers.BatchNormalization(), rnnlab.layers.GlobalAveragePooling1D(),
                               rnnlab.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="update state during training"):
        model.fit(da.from_array(x, chunks=50), da.from_array(y[:, :1], chunks=50), verbose=0)


def test_losses_added_by_a_call_are_refused_on_a_cluster(client):
    """An activity regularizer adds a loss on each call: each worker's part would add its own share, so fit on a
    cluster refuses the model with the reason instead of summing partial penalties."""
    x, y, _ = _data()
    model = rnnlab.Sequential([rnnlab.Input((7, 3)), rnnlab.layers.LSTM(4),
                               rnnlab.layers.Dense(1, activity_regularizer="l2")])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"losses that a call adds \(add_loss\(\), activity_regularizer\)"):
        model.fit(da.from_array(x, chunks=50), da.from_array(y[:, :1], chunks=50), verbose=0)
