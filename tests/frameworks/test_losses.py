"""rnnlab.losses: values against Keras 3, gradients against TF autodiff / PyTorch / finite differences."""
import numpy as np
import pytest

from tests.support.reference import require
from rnnlab import losses as L

# ---------------------------------------------------------------------------------------------------------
# cases: (id, rnnlab factory, keras class name, keras kwargs, kind)
# ---------------------------------------------------------------------------------------------------------

CASES = [
    ("mse", lambda: L.MeanSquaredError(), "MeanSquaredError", {}, "reg"),
    ("mae", lambda: L.MeanAbsoluteError(), "MeanAbsoluteError", {}, "reg"),
    ("huber", lambda: L.Huber(), "Huber", {}, "reg"),
    ("huber_d0.4", lambda: L.Huber(delta=0.4), "Huber", {"delta": 0.4}, "reg"),
    ("log_cosh", lambda: L.LogCosh(), "LogCosh", {}, "reg_far"),
    ("mape", lambda: L.MeanAbsolutePercentageError(), "MeanAbsolutePercentageError", {}, "reg_zero"),
    ("msle", lambda: L.MeanSquaredLogarithmicError(), "MeanSquaredLogarithmicError", {}, "pos"),
    ("kld", lambda: L.KLDivergence(), "KLDivergence", {}, "prob"),
    ("poisson", lambda: L.Poisson(), "Poisson", {}, "pos"),
    ("bce", lambda: L.BinaryCrossentropy(), "BinaryCrossentropy", {}, "bin"),
    ("bce_ls", lambda: L.BinaryCrossentropy(label_smoothing=0.2), "BinaryCrossentropy",
     {"label_smoothing": 0.2}, "bin"),
    ("bce_logits", lambda: L.BinaryCrossentropy(from_logits=True), "BinaryCrossentropy",
     {"from_logits": True}, "bin_logits"),
    ("bce_logits_ls", lambda: L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), "BinaryCrossentropy",
     {"from_logits": True, "label_smoothing": 0.1}, "bin_logits"),
    ("cce", lambda: L.CategoricalCrossentropy(), "CategoricalCrossentropy", {}, "cat"),
    ("cce_ls", lambda: L.CategoricalCrossentropy(label_smoothing=0.15), "CategoricalCrossentropy",
     {"label_smoothing": 0.15}, "cat"),
    ("cce_logits", lambda: L.CategoricalCrossentropy(from_logits=True), "CategoricalCrossentropy",
     {"from_logits": True}, "cat_logits"),
    ("cce_logits_ls", lambda: L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "cat_logits"),
    ("scce", lambda: L.SparseCategoricalCrossentropy(), "SparseCategoricalCrossentropy", {}, "sparse"),
    ("scce_logits", lambda: L.SparseCategoricalCrossentropy(from_logits=True), "SparseCategoricalCrossentropy",
     {"from_logits": True}, "sparse_logits"),
]
IDS = [c[0] for c in CASES]


def make_data(kind, shape, rng, dtype=np.float32, extreme=True):
    """Targets and predictions for a loss kind; ``extreme`` puts exact 0/1 probabilities in (clipping)."""
    c = shape[-1]
    if kind.startswith("reg"):
        yt = rng.normal(size=shape)
        yp = rng.normal(size=shape)
        if extreme and kind == "reg_far":  # softplus(-2x) must stay finite and exact far from 0
            yp.flat[0], yp.flat[1] = 60.0, -60.0
        if extreme and kind == "reg_zero":  # a zero target: MAPE divides by epsilon
            yt.flat[0] = 0.0
    elif kind == "pos":  # counts/rates: positive targets, predictions with one below epsilon (MSLE's floor)
        yt = rng.poisson(2.0, size=shape).astype(float)
        yp = rng.uniform(0.2, 4.0, size=shape)
        if extreme:
            yp.flat[0] = 1e-9
    elif kind == "prob":  # distributions on the last axis; an exact 0 on each side (clipped)
        yt = rng.dirichlet(np.ones(c), size=shape[:-1])
        yp = rng.dirichlet(np.ones(c), size=shape[:-1]) * 0.9 + 0.1 / c
        if extreme:
            yt.flat[0], yp.flat[1] = 0.0, 0.0
    elif kind == "bin":
        yt = (rng.uniform(size=shape) > 0.5).astype(float)
        yp = rng.uniform(0.01, 0.99, size=shape)
        if extreme:
            yp.flat[0], yp.flat[1] = 0.0, 1.0
            yp.flat[-1] = 1e-9
    elif kind == "bin_logits":
        yt = (rng.uniform(size=shape) > 0.5).astype(float)
        yp = rng.normal(size=shape) * 4
        if extreme:
            yp.flat[0], yp.flat[1] = 60.0, -60.0  # softplus must stay finite
    elif kind in ("cat", "sparse"):
        z = rng.normal(size=shape) * (2 if extreme else 0.7)  # moderate probabilities for finite differences
        yp = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        if extreme:
            yp.flat[0] = 0.0
            yp[(0,) * (len(shape) - 1)] = np.eye(c)[1]  # one exact one-hot prediction
        ids = rng.integers(0, c, size=shape[:-1])
        yt = ids if kind == "sparse" else np.eye(c)[ids]
    else:  # logits
        yp = rng.normal(size=shape) * 3
        if extreme:
            yp.flat[0] = 80.0
        ids = rng.integers(0, c, size=shape[:-1])
        yt = ids if kind == "sparse_logits" else np.eye(c)[ids]
    yt = yt if kind.startswith("sparse") else yt.astype(dtype)
    return yt, yp.astype(dtype)


def keras_loss(keras, name, kwargs):
    return getattr(keras.losses, name)(**kwargs)


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))


# ---------------------------------------------------------------------------------------------------------
# values against Keras
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(7, 4), (3, 5, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("weighting", ["none", "per_sample", "full"])
def test_values_match_keras(keras, rng, case, shape, weighting):
    _, make, kname, kwargs, kind = case
    yt, yp = make_data(kind, shape, rng)
    if weighting == "none":
        sw = None
    elif weighting == "per_sample":
        # (B,) for 2-D outputs; (B, T) -- one weight per loss entry -- for sequences
        sw = rng.uniform(0, 2, size=shape[:-1]).astype(np.float32)
        sw.flat[0] = 0.0
    else:
        sw = rng.uniform(0, 2, size=shape[:-1] + (1,)).astype(np.float32)
    ours = make()(yt, yp, sample_weight=sw)
    theirs = float(keras_loss(keras, kname, kwargs)(yt, yp, sample_weight=sw))
    assert isinstance(ours, float)
    assert np.isfinite(ours)
    assert close(ours, theirs), (ours, theirs)


@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight", "sum_over_batch_size", "mean"])
def test_reductions_match_keras(keras, rng, reduction):
    for name, kind in [("MeanSquaredError", "reg"), ("LogCosh", "reg"), ("MeanSquaredLogarithmicError", "pos"),
                       ("KLDivergence", "prob")]:
        yt, yp = make_data(kind, (6, 3), rng)
        sw = rng.uniform(0, 2, size=6).astype(np.float32)
        for w in (None, sw):
            ours = getattr(L, name)(reduction=reduction)(yt, yp, sample_weight=w)
            theirs = float(getattr(keras.losses, name)(reduction=reduction)(yt, yp, sample_weight=w))
            assert close(ours, theirs), (name, reduction, ours, theirs)


def test_sum_over_batch_size_divides_by_entries_not_weights(rng):
    yt, yp = make_data("reg", (4, 3), rng)
    sw = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    per_sample = np.mean((yt - yp) ** 2, axis=-1)
    assert close(L.MeanSquaredError()(yt, yp, sample_weight=sw), float(per_sample[0] / 4))


def test_rank_alignment_like_keras(keras, rng):
    # y_true (B,) against y_pred (B, 1), and (B, T) against (B, T, 1)
    for yt_shape, yp_shape in [((6,), (6, 1)), ((3, 5), (3, 5, 1)), ((6, 1), (6,))]:
        yt = rng.normal(size=yt_shape).astype(np.float32)
        yp = rng.normal(size=yp_shape).astype(np.float32)
        ours, grad = L.MeanSquaredError().value_and_grad(yt, yp)
        assert grad.shape == yp.shape
        assert close(ours, float(keras.losses.MeanSquaredError()(yt, yp)))
    ids = rng.integers(0, 4, size=(6, 1))
    _, yp = make_data("sparse", (6, 4), rng)
    assert close(L.SparseCategoricalCrossentropy()(ids, yp),
                 float(keras.losses.SparseCategoricalCrossentropy()(ids, yp)))


def test_sequence_sample_weight_of_batch_shape_is_rejected_like_keras(keras, rng):
    """Keras 3.15 multiplies (B, T) losses by a (B,) weight with broadcasting, which fails; so do we."""
    yt, yp = make_data("reg", (3, 5, 2), rng)
    sw = np.ones(3, np.float32)
    with pytest.raises(Exception):
        keras.losses.MeanSquaredError()(yt, yp, sample_weight=sw)
    with pytest.raises(ValueError, match=r"sample_weight.*\(3,\).*\(3, 5\)"):
        L.MeanSquaredError()(yt, yp, sample_weight=sw)


class _Masked(np.ndarray):
    """A NumPy array carrying a Keras mask, as rnnlab's MaskedArray does."""
    _keras_mask = None


@pytest.mark.parametrize("name, kind", [("MeanSquaredError", "reg"), ("Poisson", "pos"),
                                        ("MeanAbsolutePercentageError", "reg")])
def test_keras_mask_on_y_pred_weights_like_keras(keras, rng, name, kind):
    from keras.src import backend as kbackend
    tf = require("tensorflow")
    yt, yp = make_data(kind, (3, 5, 2), rng)
    mask = rng.uniform(size=(3, 5)) > 0.4
    mask[0, 0] = True
    sw = rng.uniform(0.5, 1.5, size=(3, 5)).astype(np.float32)
    masked = yp.view(_Masked)
    masked._keras_mask = mask
    for w in (None, sw):
        t = tf.constant(yp)
        kbackend.set_keras_mask(t, tf.constant(mask))
        theirs = float(getattr(keras.losses, name)()(yt, t, sample_weight=w))
        ours, grad = getattr(L, name)().value_and_grad(yt, masked, sample_weight=w)
        assert close(ours, theirs), (ours, theirs)
        assert np.all(grad[~mask] == 0)
        assert close(getattr(L, name)()(yt, yp, sample_weight=w, mask=mask), theirs)


def test_clipping_matches_keras_at_exact_probabilities(keras):
    yt = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    yp = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    ours = L.BinaryCrossentropy()(yt, yp)
    assert close(ours, float(keras.losses.BinaryCrossentropy()(yt, yp)))
    # float32's 1 - 1e-7 rounds to 0.99999988: log(1.19e-7), not log(1e-7)
    lo, hi = np.float64(np.float32(1e-7)), np.float64(np.float32(1 - 1e-7))
    expected = -(np.log(lo) + np.log(1 - hi) + np.log(hi) + np.log(1 - lo)) / 4
    assert close(ours, expected, 1e-5)
    _, grad = L.BinaryCrossentropy().value_and_grad(yt, yp)
    assert np.all(grad == 0), "clipped entries have zero gradient"


# ---------------------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)], ids=["2d", "3d"])
def test_gradients_match_tf_autodiff(keras, tf, rng, case, shape):
    """d loss / d y_pred equals TF autodiff through Keras's own loss (clipping included) to 1e-5."""
    _, make, kname, kwargs, kind = case
    yt, yp = make_data(kind, shape, rng)
    sw = rng.uniform(0, 2, size=shape[:-1]).astype(np.float32)
    for w in (None, sw):
        value, grad = make().value_and_grad(yt, yp, sample_weight=w)
        var = tf.Variable(yp)
        with tf.GradientTape() as tape:
            loss = keras_loss(keras, kname, kwargs)(yt, var, sample_weight=w)
        expected = tape.gradient(loss, var).numpy()
        assert grad.shape == yp.shape and grad.dtype == np.float32
        assert close(value, float(loss))
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-5 * scale)


def test_gradients_match_torch_autograd(torch, rng):
    """Independent check of the logits forms and the weighted reduction with PyTorch's losses."""
    F = torch.nn.functional
    b, t, c = 4, 3, 5
    logits = rng.normal(size=(b, t, c)) * 3
    ids = rng.integers(0, c, size=(b, t))
    w = rng.uniform(0, 2, size=(b, t))
    z = torch.tensor(logits, requires_grad=True)
    per = F.cross_entropy(z.reshape(-1, c), torch.tensor(ids.reshape(-1)), reduction="none").reshape(b, t)
    (per * torch.tensor(w)).mean().backward()
    value, grad = L.SparseCategoricalCrossentropy(from_logits=True).value_and_grad(ids, logits, sample_weight=w)
    np.testing.assert_allclose(grad, z.grad.numpy(), atol=1e-10)
    assert close(value, (per * torch.tensor(w)).mean().item(), 1e-12)

    target = (rng.uniform(size=(b, c)) > 0.5).astype(float)
    x = torch.tensor(logits[:, 0], requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(x, torch.tensor(target), reduction="none").mean(-1).mean()
    ref.backward()
    value, grad = L.BinaryCrossentropy(from_logits=True).value_and_grad(target, logits[:, 0])
    np.testing.assert_allclose(grad, x.grad.numpy(), atol=1e-10)
    assert close(value, ref.item(), 1e-12)

    yt = rng.normal(size=(b, t, c))
    p = torch.tensor(logits, requires_grad=True)
    ref = F.huber_loss(p, torch.tensor(yt), delta=1.5, reduction="none").mean(-1).mean()
    ref.backward()
    value, grad = L.Huber(delta=1.5).value_and_grad(yt, logits)
    np.testing.assert_allclose(grad, p.grad.numpy(), atol=1e-10)


def central_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        g.flat[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)], ids=["2d", "3d"])
def test_gradients_finite_difference_float64(rng, case, shape):
    _, make, _, _, kind = case
    yt, yp = make_data(kind, shape, rng, dtype=np.float64, extreme=False)
    if kind.startswith("reg"):  # keep away from the kinks of |x| and of Huber's switch
        yp = yt + np.where(rng.uniform(size=shape) > 0.5, 1, -1) * rng.uniform(0.1, 0.3, size=shape)
        yp.flat[::3] += np.sign(yp.flat[::3] - yt.flat[::3]) * 1.5
    sw = rng.uniform(0.2, 2, size=shape[:-1])
    loss = make()
    value, grad = loss.value_and_grad(yt, yp, sample_weight=sw)
    assert grad.dtype == np.float64
    fd = central_difference(lambda v: loss(yt, v, sample_weight=sw), yp)
    rel = np.linalg.norm(grad - fd) / max(np.linalg.norm(fd), np.linalg.norm(grad), 1e-300)
    assert rel <= 1e-6, rel


def test_gradient_is_zero_where_probabilities_are_clipped():
    yt = np.eye(3)[[0, 1]].astype(np.float64)
    yp = np.array([[1e-9, 0.5, 0.5], [0.2, 0.7, 0.1]])
    _, g = L.SparseCategoricalCrossentropy().value_and_grad(np.array([0, 1]), yp)
    assert g[0, 0] == 0.0 and g[1, 1] != 0.0
    _, g = L.BinaryCrossentropy().value_and_grad(yt, np.where(yt > 0, 1.0, 0.3))
    assert np.all(g[yt > 0] == 0.0) and np.all(g[yt == 0] != 0.0)


def test_large_logits_are_stable():
    z = np.array([[1000.0, -1000.0, 0.0]], np.float32)
    for loss, yt in [(L.CategoricalCrossentropy(from_logits=True), np.array([[0, 1, 0]], np.float32)),
                     (L.SparseCategoricalCrossentropy(from_logits=True), np.array([1])),
                     (L.BinaryCrossentropy(from_logits=True), np.array([[0, 1, 1]], np.float32))]:
        value, grad = loss.value_and_grad(yt, z)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert close(L.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), z), 2000.0)


def test_dtypes(rng):
    yt, yp = make_data("reg", (4, 3), rng, dtype=np.float64)
    _, g = L.MeanSquaredError().value_and_grad(yt, yp)
    assert g.dtype == np.float64
    _, g = L.MeanSquaredError().value_and_grad(yt, yp.astype(np.float32))
    assert g.dtype == np.float32


# ---------------------------------------------------------------------------------------------------------
# errors and lookup
# ---------------------------------------------------------------------------------------------------------

def test_incompatible_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        L.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        L.CategoricalCrossentropy()(np.zeros((4, 3)), np.full((4, 2), 0.5))


def test_sparse_target_checks():
    p = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match="out of range"):
        L.SparseCategoricalCrossentropy()(np.array([0, 1, 3, 2]), p)
    with pytest.raises(ValueError, match="out of range"):
        L.SparseCategoricalCrossentropy()(np.array([0, -1, 2, 2]), p)
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 3\)"):
        L.SparseCategoricalCrossentropy()(np.eye(3)[[0, 1, 2, 0]], p)
    with pytest.raises(ValueError, match="integer"):
        L.SparseCategoricalCrossentropy()(np.array([0, 1.5, 2, 0]), p)
    assert close(L.SparseCategoricalCrossentropy()(np.array([0.0, 1.0, 2.0, 0.0]), p), float(np.log(3)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_targets_rejected(rng, case):
    _, make, _, _, kind = case
    yt, yp = make_data(kind, (3, 4), rng)
    yt = yt.astype(np.float32)
    yt.flat[2] = np.nan
    with pytest.raises(ValueError, match="targets contain NaN"):
        make()(yt, yp)


def test_get():
    assert isinstance(L.get("mse"), L.MeanSquaredError)
    assert isinstance(L.get("mean_squared_error"), L.MeanSquaredError)
    assert isinstance(L.get("mae"), L.MeanAbsoluteError)
    assert isinstance(L.get("mean_absolute_error"), L.MeanAbsoluteError)
    assert isinstance(L.get("huber"), L.Huber)
    for names, cls in [(("log_cosh", "LogCosh"), L.LogCosh),
                       (("mape", "MAPE", "mean_absolute_percentage_error", "MeanAbsolutePercentageError"),
                        L.MeanAbsolutePercentageError),
                       (("msle", "MSLE", "mean_squared_logarithmic_error", "MeanSquaredLogarithmicError"),
                        L.MeanSquaredLogarithmicError),
                       (("kld", "KLD", "kl_divergence", "KLDivergence"), L.KLDivergence),
                       (("poisson", "Poisson"), L.Poisson)]:
        for name in names:
            assert type(L.get(name)) is cls, name
    assert isinstance(L.get("binary_crossentropy"), L.BinaryCrossentropy)
    assert isinstance(L.get("categorical_crossentropy"), L.CategoricalCrossentropy)
    assert isinstance(L.get("sparse_categorical_crossentropy"), L.SparseCategoricalCrossentropy)
    assert isinstance(L.get("SparseCategoricalCrossentropy"), L.SparseCategoricalCrossentropy)
    inst = L.BinaryCrossentropy(from_logits=True)
    assert L.get(inst) is inst
    assert L.get(None) is None
    again = L.get(L.serialize(L.CategoricalCrossentropy(label_smoothing=0.1)))
    assert isinstance(again, L.CategoricalCrossentropy) and again.label_smoothing == 0.1
    with pytest.raises(ValueError) as info:
        L.get("mean_sqared_error")
    msg = str(info.value)
    assert "`loss`" in msg and "'mean_sqared_error'" in msg and "'mse'" in msg and "'huber'" in msg


def test_callable_loss_gets_its_gradient_from_the_record():
    """A plain function written with NumPy ufuncs and np.mean (which map to rnnlab.ops on the record): value and
    gradient; one that leaves the record (np.asarray) gives its value but refuses a gradient."""
    fn = lambda yt, yp: np.mean((yt - yp) ** 2, axis=-1)  # noqa: E731
    loss = L.get(fn)
    y_true, y_pred = np.zeros((2, 3)), np.arange(6.0).reshape(2, 3)
    assert close(loss(y_true, y_pred), float(np.mean(np.mean(y_pred ** 2, axis=-1))))
    _, grad = loss.value_and_grad(y_true, y_pred)
    np.testing.assert_allclose(grad, 2 * y_pred / 3 / 2)  # d/dy of the mean over 3 values, then over 2 samples
    detached = L.get(lambda yt, yp: np.mean((yt - np.asarray(yp)) ** 2, axis=-1))
    assert close(detached(y_true, y_pred), loss(y_true, y_pred))
    with pytest.raises(TypeError, match="cannot differentiate"):
        detached.value_and_grad(y_true, y_pred)


def test_names_match_keras(keras):
    for _, make, kname, kwargs, _ in CASES:
        assert make().name == keras_loss(keras, kname, kwargs).name
    for name in ("LogCosh", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "KLDivergence", "Poisson"):
        assert getattr(L, name)(name="x", reduction="sum").get_config() == \
            getattr(keras.losses, name)(name="x", reduction="sum").get_config()


def test_accepted_names_are_keras_names(keras):
    """Every string rnnlab.losses.get accepts Keras accepts too, and Keras's spellings of the new losses work."""
    for name in L.ACCEPTED_NAMES + ("MSE", "MAE", "MAPE", "MSLE", "KLD", "BCE", "LogCosh", "Poisson"):
        assert keras.losses.get(name) is not None and L.get(name) is not None, name
    for wrong in ("logcosh", "kullback_leibler_divergence"):  # Keras 2 spellings Keras 3 dropped
        with pytest.raises(ValueError):
            keras.losses.get(wrong)
        with pytest.raises(ValueError, match=f"`loss`.*'{wrong}'"):
            L.get(wrong)


def test_as_logits_loss():
    twin = L.as_logits_loss(L.BinaryCrossentropy(label_smoothing=0.1))
    assert twin.from_logits and twin.label_smoothing == 0.1
    assert L.as_logits_loss(L.SparseCategoricalCrossentropy()).from_logits
    assert L.as_logits_loss(L.MeanSquaredError()) is None
    assert L.as_logits_loss(L.CategoricalCrossentropy(from_logits=True)) is None


# ---------------------------------------------------------------------------------------------------------
# Keras's `axis` and `ignore_class`, and configs equal to Keras's
# ---------------------------------------------------------------------------------------------------------

def _tf_value_and_grad(tf, loss, yt, yp, **kwargs):
    var = tf.Variable(yp)
    with tf.GradientTape() as tape:
        value = loss(yt, var, **kwargs)
    return np.asarray(value), tape.gradient(value, var).numpy()


def _class_axis_data(rng, shape, axis, logits):
    """One-hot targets and probabilities (or logits) whose classes lie along ``axis``."""
    z = rng.normal(size=shape) * 2
    ids = rng.integers(0, shape[axis], size=tuple(np.delete(shape, axis)))
    yt = np.moveaxis(np.eye(shape[axis])[ids], -1, axis)
    yp = z if logits else np.exp(z) / np.exp(z).sum(axis, keepdims=True)
    return yt.astype(np.float32), yp.astype(np.float32)


AXIS_CASES = [  # (loss name, kwargs, axis); TF itself fails on from_logits with a negative axis other than -1
    ("CategoricalCrossentropy", {}, 1), ("CategoricalCrossentropy", {}, -3),
    ("CategoricalCrossentropy", {"from_logits": True}, 1), ("CategoricalCrossentropy", {"label_smoothing": 0.2}, 0),
    ("BinaryCrossentropy", {}, 1), ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, 0),
    ("BinaryCrossentropy", {}, -2),
]


@pytest.mark.parametrize("name,kwargs,axis", AXIS_CASES, ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(AXIS_CASES)])
def test_axis_matches_keras_values_and_gradients(keras, tf, rng, name, kwargs, axis):
    yt, yp = _class_axis_data(rng, (3, 4, 5), axis, kwargs.get("from_logits", False))
    if name == "BinaryCrossentropy":
        yt = (rng.uniform(size=yp.shape) > 0.5).astype(np.float32)
        yp = yp if kwargs.get("from_logits") else np.clip(yp, 0.02, 0.98)
    sw = rng.uniform(0, 2, size=tuple(np.delete(yp.shape, axis))).astype(np.float32)
    for w in (None, sw):
        ours = getattr(L, name)(axis=axis, **kwargs)
        value, grad = ours.value_and_grad(yt, yp, sample_weight=w)
        theirs, expected = _tf_value_and_grad(tf, getattr(keras.losses, name)(axis=axis, **kwargs), yt, yp,
                                              sample_weight=w)
        assert close(value, float(theirs)), (value, theirs)
        np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))
        per = ours.__class__(axis=axis, reduction="none", **kwargs)(yt, yp)
        np.testing.assert_allclose(per, getattr(keras.losses, name)(axis=axis, reduction="none", **kwargs)(yt, yp),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_axis_gradients_finite_difference_float64(rng, from_logits):
    """Keras counts the smoothed classes on the last axis whatever ``axis`` is, so smoothed targets along
    another axis need not sum to 1; the gradient is still that of the reported value."""
    for loss, axis in [(L.CategoricalCrossentropy(axis=0, label_smoothing=0.3, from_logits=from_logits), 0),
                       (L.CategoricalCrossentropy(axis=1, from_logits=from_logits), 1),
                       (L.BinaryCrossentropy(axis=0, label_smoothing=0.2, from_logits=from_logits), 0)]:
        yt, yp = _class_axis_data(rng, (3, 4, 2), axis, from_logits)
        yt, yp = yt.astype(np.float64), yp.astype(np.float64) * 0.8 + (0 if from_logits else 0.05)
        sw = rng.uniform(0.2, 2, size=tuple(np.delete(yp.shape, axis)))
        _, grad = loss.value_and_grad(yt, yp, sample_weight=sw)
        fd = central_difference(lambda v: loss(yt, v, sample_weight=sw), yp)
        assert np.linalg.norm(grad - fd) <= 1e-6 * max(np.linalg.norm(fd), 1e-300)


def test_bad_axis_is_refused(keras, rng):
    with pytest.raises(ValueError, match=r"`axis` of CategoricalCrossentropy must be an int; received axis=True"):
        L.CategoricalCrossentropy(axis=True)
    yt, yp = make_data("cat", (3, 4), rng)
    with pytest.raises(ValueError, match=r"`axis` of BinaryCrossentropy must name an axis .*received axis=2"):
        L.BinaryCrossentropy(axis=2)(yt, yp)
    ids, yp = make_data("sparse", (3, 4, 5), rng)
    with pytest.raises(ValueError, match="Only axis=-1"):  # Keras's TensorFlow backend refuses it too
        keras.losses.SparseCategoricalCrossentropy(axis=1)(ids, np.moveaxis(yp, -1, 1))
    with pytest.raises(ValueError, match=r"only the last axis .*received axis=1"):
        L.SparseCategoricalCrossentropy(axis=1)(ids, np.moveaxis(yp, -1, 1))
    assert close(L.SparseCategoricalCrossentropy(axis=2)(ids, yp), L.SparseCategoricalCrossentropy()(ids, yp))
    with pytest.raises(ValueError, match=r"`ignore_class` .* must be an int or None; received ignore_class=1.5"):
        L.SparseCategoricalCrossentropy(ignore_class=1.5)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_class", [-1, 2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)], ids=["2d", "3d"])
def test_ignore_class_matches_keras(keras, tf, rng, from_logits, ignore_class, shape):
    """Ignored entries: value 0, no gradient, masked out of every reduction (joined with a mask on y_pred)."""
    from keras.src import backend as kbackend
    ids, yp = make_data("sparse_logits" if from_logits else "sparse", shape, rng)
    ignored = rng.uniform(size=ids.shape) < 0.3
    ignored.flat[0], ignored.flat[1] = True, False
    ids = np.where(ignored, ignore_class, ids)
    ignored = ids == ignore_class  # an in-range ignore_class was drawn as a target too
    sw = rng.uniform(0.2, 2, size=ids.shape).astype(np.float32)
    for reduction in ("sum_over_batch_size", "sum", "mean_with_sample_weight"):
        for w in (None, sw):
            kwargs = dict(from_logits=from_logits, ignore_class=ignore_class, reduction=reduction)
            value, grad = L.SparseCategoricalCrossentropy(**kwargs).value_and_grad(ids, yp, sample_weight=w)
            theirs, expected = _tf_value_and_grad(tf, keras.losses.SparseCategoricalCrossentropy(**kwargs), ids,
                                                  yp, sample_weight=w)
            assert close(value, float(theirs), 1e-5), (reduction, value, theirs)
            np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-6 * max(1.0, np.abs(expected).max()))
            assert np.all(grad[ignored] == 0)
    kwargs = dict(from_logits=from_logits, ignore_class=ignore_class, reduction="none")
    np.testing.assert_allclose(L.SparseCategoricalCrossentropy(**kwargs)(ids, yp),
                               keras.losses.SparseCategoricalCrossentropy(**kwargs)(ids, yp), rtol=1e-6, atol=1e-7)
    mask = rng.uniform(size=ids.shape) > 0.3  # Keras's in_mask & out_mask
    mask.flat[1] = True
    t = tf.constant(yp)
    kbackend.set_keras_mask(t, tf.constant(mask))
    kwargs = dict(from_logits=from_logits, ignore_class=ignore_class)
    theirs = float(keras.losses.SparseCategoricalCrossentropy(**kwargs)(ids, t))
    ours = L.SparseCategoricalCrossentropy(**kwargs)
    assert close(ours(ids, yp, mask=mask), theirs, 1e-5)
    assert close(ours.normalizer(ids, yp, mask=mask), float(np.sum(mask & ~ignored)))


def test_ignore_class_gradient_finite_difference_float64(rng):
    ids, yp = make_data("sparse", (4, 3, 5), rng, dtype=np.float64, extreme=False)
    ids[0, 0] = ids[2, 1] = 7  # ignored: a class id out of range is fine when it is the ignored one
    for from_logits in (False, True):
        loss = L.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=7)
        sw = rng.uniform(0.2, 2, size=ids.shape)
        _, grad = loss.value_and_grad(ids, yp, sample_weight=sw)
        fd = central_difference(lambda v: loss(ids, v, sample_weight=sw), yp)
        assert np.linalg.norm(grad - fd) <= 1e-6 * np.linalg.norm(fd)
    with pytest.raises(ValueError, match=r"out of range \[0, 5\), and not ignore_class=7: e.g. 8"):
        loss(np.where(ids == 7, 8, ids), yp)


CONFIG_CASES = [
    ("Huber", {"delta": 2.5, "name": "h"}), ("Huber", {"reduction": "sum"}), ("MeanSquaredError", {"reduction": "sum"}),
    ("MeanAbsoluteError", {}), ("LogCosh", {}), ("Poisson", {"name": "p"}),
    ("BinaryCrossentropy", {"axis": 1, "label_smoothing": 0.1}), ("BinaryCrossentropy", {}),
    ("CategoricalCrossentropy", {"axis": 0, "from_logits": True, "reduction": "mean"}),
    ("SparseCategoricalCrossentropy", {"ignore_class": 3}),
    ("SparseCategoricalCrossentropy", {"ignore_class": -1, "from_logits": True, "axis": -1}),
]


@pytest.mark.parametrize("name,kwargs", CONFIG_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIG_CASES)])
def test_configs_equal_keras_and_round_trip(keras, name, kwargs):
    """get_config keys and values are Keras's (Huber's leaves out delta, as Keras's does); each side rebuilds
    the other's config."""
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.losses, name)(**kwargs)
    config = ours.get_config()
    assert config == theirs.get_config()
    assert type(ours).from_config(config).get_config() == config
    assert type(theirs).from_config(config).get_config() == config
    assert L.get(L.serialize(ours)).get_config() == config
    if name == "Huber":  # neither side carries delta through a config
        assert "delta" not in config
        assert type(ours).from_config(config).delta == type(theirs).from_config(config)._fn_kwargs["delta"] == 1.0


# ---------------------------------------------------------------------------------------------------------
# where Keras's TensorFlow backend differs: an all-zero one-hot row
# ---------------------------------------------------------------------------------------------------------

_ZERO_ROW_SCRIPT = """
import sys, numpy as np, keras, torch
data = np.load(sys.argv[1])
x, y, logits, kernel, bias = (data[k] for k in ("x", "y", "logits", "kernel", "bias"))
out = {}
for from_logits in (False, True):
    z = torch.tensor(logits if from_logits else np.exp(logits) / np.exp(logits).sum(-1, keepdims=True),
                     requires_grad=True)
    loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits)(torch.tensor(y), z)
    loss.backward()
    out[f"value_{from_logits}"], out[f"grad_{from_logits}"] = loss.detach().numpy(), z.grad.numpy()
model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(y.shape[1], activation="softmax")])
model.set_weights([kernel, bias])
model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
model.train_on_batch(x, y)
out["kernel"], out["bias"] = model.get_weights()
np.savez(sys.argv[2], **out)
"""


def test_all_zero_one_hot_row_matches_keras_on_torch(keras, tf, rng, tmp_path):
    """A target row of zeros has loss 0; Keras on torch (and rnnlab) give it no gradient, while Keras on
    TensorFlow's softmax_cross_entropy_with_logits gives it softmax(z) (see the README's list of TensorFlow
    backend differences)."""
    import os
    import subprocess
    import sys

    import rnnlab
    b, d, c = 5, 3, 4
    x = rng.normal(size=(b, d)).astype(np.float32)
    y = np.eye(c, dtype=np.float32)[rng.integers(0, c, size=b)]
    y[1] = 0.0  # the all-zero row
    logits = (rng.normal(size=(b, c)) * 2).astype(np.float32)
    kernel, bias = rng.uniform(-1, 1, (d, c)).astype(np.float32), rng.uniform(-0.5, 0.5, c).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x, y=y, logits=logits, kernel=kernel, bias=bias)
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _ZERO_ROW_SCRIPT, str(tmp_path / "in.npz"),
                           str(tmp_path / "out.npz")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch_side = np.load(tmp_path / "out.npz")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    for from_logits, y_pred in ((False, probs), (True, logits)):
        value, grad = L.CategoricalCrossentropy(from_logits=from_logits).value_and_grad(y, y_pred)
        assert close(value, float(torch_side[f"value_{from_logits}"]), 1e-6)
        np.testing.assert_allclose(grad, torch_side[f"grad_{from_logits}"], rtol=0, atol=1e-7)
        assert np.all(grad[1] == 0)
    _, tf_grad = _tf_value_and_grad(tf, keras.losses.CategoricalCrossentropy(from_logits=True), y, logits)
    assert np.abs(tf_grad[1]).max() > 1e-3  # the TensorFlow quirk the README lists
    model = rnnlab.Sequential([rnnlab.Input((d,)), rnnlab.layers.Dense(c, activation="softmax")])
    model.set_weights([kernel, bias])
    model.compile(optimizer=rnnlab.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model.train_on_batch(x, y)
    for ours, theirs in zip(model.get_weights(), (torch_side["kernel"], torch_side["bias"])):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
