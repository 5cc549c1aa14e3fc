"""Optimizers and learning-rate schedules: parity with Keras 3 (the reference) and PyTorch, state keyed by
variable path, configs, and clear errors for bad input.

Keras is the reference: every option combination is run for 20 steps on the same random gradients in rnnlab
and in real Keras 3 (``keras.optimizers.X`` on ``keras.Variable``s) and compared after every step.

PyTorch is checked where its formulation coincides with Keras's.  Known differences (Keras is the reference):

* epsilon placement: Keras RMSprop/Adagrad put ``epsilon`` inside the square root (``sqrt(v + eps)``), torch
  outside (``sqrt(v) + eps``); Keras Adam adds ``epsilon`` to the *uncorrected* ``sqrt(v)``, torch to
  ``sqrt(v) / sqrt(1 - beta_2**t)``.  These agree only for ``epsilon=0``, which is what the torch tests use.
* SGD momentum: Keras keeps the learning rate inside the velocity (``v = m*v - lr*g; w += v``), torch outside
  (``b = m*b + g; w -= lr*b``).  Equal for a constant learning rate, different once the rate changes (a
  schedule).  Nesterov likewise.
* weight decay: Keras applies it decoupled for every optimizer (``w -= w * wd * lr`` before the update); torch
  SGD/RMSprop/Adam/Adagrad add ``wd * w`` to the gradient (L2).  The two agree only for momentum-free SGD;
  torch AdamW is decoupled like Keras.
* Adagrad: torch's default ``initial_accumulator_value`` is 0, Keras's 0.1.  AdamW: torch's default
  ``weight_decay`` is 0.01, Keras's 0.004.
* global-norm clipping: torch's ``clip_grad_norm_`` divides by ``norm + 1e-6``; Keras by ``norm``.
"""
import warnings
import zlib

import numpy as np
import pytest

import rnnlab
from rnnlab import optimizers
from rnnlab.optimizers import schedules

STEPS = 20
SHAPES = [(3, 4), (4,), (2, 3, 2)]
NAMES = ["kernel", "bias", "recurrent_kernel"]


class FakeVar:
    """The smallest stand-in for an rnnlab Variable: a NumPy ``value`` and a ``path``."""

    def __init__(self, value, path, name=None, trainable=True):
        self.value = value
        self.path = path
        self.name = name if name is not None else path.rsplit("/", 1)[-1]
        self.trainable = trainable

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype.name


def make_problem(seed, dtype="float32", steps=STEPS, scale=1.0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES] for _ in range(steps)]
    grads[5][1][...] = 0  # a zero gradient (clipnorm's zero-norm branch)
    return inits, grads


def make_vars(inits, prefix="model/layer"):
    return [FakeVar(v.copy(), f"{prefix}/{n}") for v, n in zip(inits, NAMES)]


def build_kwargs(kwargs, module):
    """Turn a ``schedule=(class name, args)`` entry into ``learning_rate=module.schedules.<class>(**args)``."""
    kwargs = dict(kwargs)
    if "schedule" in kwargs:
        cls_name, args = kwargs.pop("schedule")
        kwargs["learning_rate"] = getattr(module.schedules, cls_name)(**args)
    return kwargs


def run_rnnlab(cls_name, kwargs, inits, grads):
    opt = getattr(optimizers, cls_name)(**build_kwargs(kwargs, optimizers))
    variables = make_vars(inits)
    arrays = [v.value for v in variables]
    history = []
    for step in grads:
        opt.apply_gradients(zip(step, variables))
        history.append([v.value.copy() for v in variables])
    for v, a in zip(variables, arrays):  # updated in place, never replaced
        assert v.value is a
    assert opt.iterations == len(grads)
    return history


def run_keras(keras, cls_name, kwargs, inits, grads):
    opt = getattr(keras.optimizers, cls_name)(**build_kwargs(kwargs, keras.optimizers))
    variables = [keras.Variable(v.copy(), dtype=v.dtype.name, name=n) for v, n in zip(inits, NAMES)]
    history = []
    for step in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
        history.append([np.array(v.numpy()) for v in variables])
    return history


def assert_histories_close(actual, expected, rtol, atol, label):
    for step, (acts, exps) in enumerate(zip(actual, expected)):
        for i, (a, e) in enumerate(zip(acts, exps)):
            assert a.dtype == e.dtype, f"{label}: step {step}, variable {i}: dtype {a.dtype} != {e.dtype}"
            np.testing.assert_allclose(
                a, e, rtol=rtol, atol=atol,
                err_msg=f"{label}: variable {i} ({NAMES[i]}) differs after step {step + 1}")


# ---------------------------------------------------------------------------------------------------------------
# parity with Keras 3
# ---------------------------------------------------------------------------------------------------------------

EXP = ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5))
EXP_STAIR = ("ExponentialDecay", dict(initial_learning_rate=0.05, decay_steps=4, decay_rate=0.7, staircase=True))
PIECEWISE = ("PiecewiseConstantDecay", dict(boundaries=[3, 10], values=[0.01, 0.005, 0.001]))
COSINE = ("CosineDecay", dict(initial_learning_rate=0.02, decay_steps=15, alpha=0.1))
COSINE_WARM = ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.03,
                                   warmup_steps=5))

KERAS_CASES = [
    ("SGD", {}),
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(learning_rate=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.2)),
    ("SGD", dict(learning_rate=0.1, clipnorm=1.0)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, global_clipnorm=2.0)),
    ("SGD", dict(learning_rate=0.1, clipvalue=0.5)),
    ("SGD", dict(learning_rate=0.1, loss_scale_factor=4.0)),
    ("SGD", dict(schedule=EXP)),
    ("SGD", dict(schedule=EXP_STAIR, momentum=0.9, nesterov=True)),
    ("RMSprop", {}),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.9)),
    ("RMSprop", dict(learning_rate=0.01, centered=True)),
    ("RMSprop", dict(learning_rate=0.01, centered=True, momentum=0.5, rho=0.8)),
    ("RMSprop", dict(learning_rate=0.01, weight_decay=0.05, clipnorm=1.0)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.5, epsilon=1e-3, global_clipnorm=2.0)),
    ("RMSprop", dict(schedule=COSINE, clipvalue=0.5)),
    ("Adam", {}),
    ("Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("Adam", dict(learning_rate=0.01, weight_decay=0.1)),
    ("Adam", dict(learning_rate=0.01, global_clipnorm=2.0)),
    ("Adam", dict(learning_rate=0.01, clipvalue=0.5, beta_1=0.5, beta_2=0.9)),
    ("Adam", dict(learning_rate=0.01, epsilon=1e-3, amsgrad=True, clipnorm=1.0)),
    ("Adam", dict(schedule=PIECEWISE)),
    ("Adam", dict(schedule=COSINE_WARM, amsgrad=True)),
    ("AdamW", {}),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(schedule=EXP, clipnorm=1.0)),
    ("Adagrad", {}),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-3)),
    ("Adagrad", dict(learning_rate=0.1, weight_decay=0.1, clipvalue=0.5)),
    ("Adagrad", dict(schedule=EXP, global_clipnorm=2.0)),
    ("Nadam", {}),
    ("Nadam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, weight_decay=0.1)),
    ("Nadam", dict(schedule=COSINE, clipnorm=1.0)),
    ("Adamax", {}),
    ("Adamax", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.5, epsilon=1e-3, global_clipnorm=2.0)),
    ("Adamax", dict(schedule=EXP, weight_decay=0.1)),
    ("Adadelta", {}),
    ("Adadelta", dict(learning_rate=1.0, rho=0.8, epsilon=1e-4, clipvalue=0.5)),
    ("Adadelta", dict(schedule=PIECEWISE, weight_decay=0.1)),
    ("Lion", {}),
    ("Lion", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, clipnorm=1.0)),
    ("Lion", dict(schedule=EXP_STAIR, beta_1=1.0, weight_decay=0.1)),
]


def _case_id(case):
    cls_name, kwargs = case
    parts = [cls_name] + [f"{k}={v[0] if k == 'schedule' else v}" for k, v in kwargs.items()]
    return "-".join(parts)


@pytest.mark.parametrize("case", KERAS_CASES, ids=[_case_id(c) for c in KERAS_CASES])
def test_matches_keras_float32(keras, case):
    cls_name, kwargs = case
    inits, grads = make_problem(zlib.crc32(_case_id(case).encode()))
    ours = run_rnnlab(cls_name, kwargs, inits, grads)
    ref = run_keras(keras, cls_name, kwargs, inits, grads)
    # Every case must actually move the variables, or the comparison proves nothing.
    assert all(not np.array_equal(a, b) for a, b in zip(ours[-1], inits))
    assert_histories_close(ours, ref, rtol=1e-6, atol=1e-6, label=_case_id(case))


KERAS_F64_CASES = [
    ("SGD", dict(schedule=EXP, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("RMSprop", dict(learning_rate=0.01, centered=True, momentum=0.5, clipnorm=1.0)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True, global_clipnorm=2.0)),
    ("AdamW", dict(learning_rate=0.01, schedule=COSINE)),
    ("Adagrad", dict(learning_rate=0.1, clipvalue=0.5)),
    ("Nadam", dict(learning_rate=0.01, weight_decay=0.1)),
    ("Adamax", dict(schedule=COSINE, clipnorm=1.0)),
    ("Adadelta", dict(learning_rate=1.0, global_clipnorm=2.0)),
    ("Lion", dict(learning_rate=0.01, beta_1=0.7)),
]


@pytest.mark.parametrize("case", KERAS_F64_CASES, ids=[_case_id(c) for c in KERAS_F64_CASES])
def test_matches_keras_float64(keras, case):
    """float64 variables are updated in float64 (with Keras's float32-rounded learning rate)."""
    cls_name, kwargs = case
    inits, grads = make_problem(7, dtype="float64")
    ours = run_rnnlab(cls_name, kwargs, inits, grads)
    ref = run_keras(keras, cls_name, kwargs, inits, grads)
    assert_histories_close(ours, ref, rtol=1e-12, atol=1e-12, label=_case_id(case))


def test_learning_rate_assignment_matches_keras(keras):
    """``optimizer.learning_rate = x`` between steps (as ReduceLROnPlateau does) behaves as in Keras."""
    inits, grads = make_problem(3)
    ours = optimizers.Adam(learning_rate=0.01)
    ref = keras.optimizers.Adam(learning_rate=0.01)
    our_vars = make_vars(inits)
    ref_vars = [keras.Variable(v.copy(), name=n) for v, n in zip(inits, NAMES)]
    for i, step in enumerate(grads):
        if i in (5, 12):
            new_lr = np.float32(ours.learning_rate * 0.5)
            ours.learning_rate = new_lr
            ref.learning_rate = new_lr
        ours.apply_gradients(zip(step, our_vars))
        ref.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], ref_vars))
        assert ours.learning_rate == float(np.asarray(ref.learning_rate))
        for a, e in zip(our_vars, ref_vars):
            np.testing.assert_allclose(a.value, e.numpy(), rtol=1e-6, atol=1e-6)


def test_exclude_from_weight_decay_matches_keras(keras):
    inits, grads = make_problem(11)
    ours = optimizers.AdamW(learning_rate=0.01, weight_decay=0.2)
    ref = keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.2)
    ours.exclude_from_weight_decay(var_names=["bias"])
    ref.exclude_from_weight_decay(var_names=["bias"])
    our_vars = make_vars(inits)
    ref_vars = [keras.Variable(v.copy(), name=n) for v, n in zip(inits, NAMES)]
    for step in grads:
        ours.apply_gradients(zip(step, our_vars))
        ref.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], ref_vars))
    for a, e in zip(our_vars, ref_vars):
        np.testing.assert_allclose(a.value, e.numpy(), rtol=1e-6, atol=1e-6)


def test_exclude_from_weight_decay_by_variable():
    variables = make_vars([np.ones(s, "float32") for s in SHAPES])
    opt = optimizers.SGD(learning_rate=0.5, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_list=[variables[0]])
    opt.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    np.testing.assert_array_equal(variables[0].value, 1.0)
    np.testing.assert_allclose(variables[1].value, 1.0 - 0.05)


SCHEDULE_CASES = [
    EXP, EXP_STAIR, PIECEWISE, COSINE, COSINE_WARM,
    ("ExponentialDecay", dict(initial_learning_rate=1.0, decay_steps=3, decay_rate=0.96)),
    ("PiecewiseConstantDecay", dict(boundaries=[0, 5, 6], values=[1.0, 0.5, 0.25, 0.125])),
    ("CosineDecay", dict(initial_learning_rate=0.5, decay_steps=7)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=7, end_learning_rate=0.01, power=2.5,
                             cycle=True)),
    ("PolynomialDecay", dict(initial_learning_rate=1.0, decay_steps=12, end_learning_rate=0.0, power=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=4, decay_rate=1.5, staircase=True)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.3, first_decay_steps=5, t_mul=1.0, m_mul=0.8,
                                 alpha=0.1)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.05, first_decay_steps=3, t_mul=1.5, m_mul=0.9)),
]


@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SCHEDULE_CASES)])
def test_schedules_match_keras(keras, case):
    cls_name, args = case
    ours = getattr(schedules, cls_name)(**args)
    ref = getattr(keras.optimizers.schedules, cls_name)(**args)
    for step in range(30):
        a = ours(step)
        e = np.asarray(ref(keras.ops.convert_to_tensor(step, dtype="int64")))
        assert np.asarray(a).dtype == e.dtype == np.float32
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-9, err_msg=f"{cls_name} at step {step}")
    assert ours.get_config() == ref.get_config()
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(ref)
    clone = schedules.deserialize(keras.optimizers.schedules.serialize(ref))
    assert type(clone) is type(ours) and clone.get_config() == ours.get_config()


@pytest.mark.parametrize("cls_name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Nadam", "Adamax",
                                      "Adadelta", "Lion"])
def test_config_matches_keras(keras, cls_name):
    kwargs = dict(name="opt", clipnorm=1.5)
    ours = getattr(optimizers, cls_name)(**kwargs)
    ref = getattr(keras.optimizers, cls_name)(**kwargs)
    assert ours.get_config() == ref.get_config()
    # A Keras-serialised optimizer deserialises into the same rnnlab optimizer, and back.
    rebuilt = optimizers.get(keras.optimizers.serialize(ref))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ref.get_config()
    assert optimizers.serialize(ours) == keras.optimizers.serialize(ref)
    back = keras.optimizers.get(optimizers.serialize(ours))
    assert back.get_config() == ours.get_config()


def test_config_with_schedule_matches_keras(keras):
    ours = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.9), momentum=0.9, name="s")
    ref = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9),
                               momentum=0.9, name="s")
    assert ours.get_config() == ref.get_config()
    rebuilt = optimizers.get(keras.optimizers.serialize(ref))
    assert isinstance(rebuilt._learning_rate, schedules.ExponentialDecay)
    assert rebuilt.get_config() == ours.get_config()


def test_default_names_follow_keras():
    assert optimizers.Adam().name.startswith("adam")
    assert optimizers.AdamW().name.startswith("adam_w")
    assert optimizers.RMSprop().name.startswith("rm_sprop")
    assert optimizers.Nadam().name.startswith("nadam") and optimizers.Lion().name.startswith("lion")
    assert optimizers.Adamax().name.startswith("adamax") and optimizers.Adadelta().name.startswith("adadelta")
    a, b = optimizers.SGD(), optimizers.SGD()
    assert a.name != b.name


# ---------------------------------------------------------------------------------------------------------------
# parity with PyTorch where the formulations coincide (see the module docstring)
# ---------------------------------------------------------------------------------------------------------------

TORCH_CASES = [
    # (rnnlab class, rnnlab kwargs, torch class, torch kwargs)
    ("SGD", dict(learning_rate=0.1), "SGD", dict(lr=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9), "SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True), "SGD",
     dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.2), "SGD", dict(lr=0.1, weight_decay=0.2)),
    ("RMSprop", dict(learning_rate=0.01, epsilon=0.0), "RMSprop", dict(lr=0.01, alpha=0.9, eps=0.0)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=0.0), "RMSprop",
     dict(lr=0.01, alpha=0.8, momentum=0.5, eps=0.0)),
    ("RMSprop", dict(learning_rate=0.01, centered=True, momentum=0.9, epsilon=0.0), "RMSprop",
     dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, eps=0.0)),
    ("Adam", dict(learning_rate=0.01, epsilon=0.0), "Adam", dict(lr=0.01, eps=0.0)),
    ("Adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, amsgrad=True, epsilon=0.0), "Adam",
     dict(lr=0.01, betas=(0.5, 0.9), amsgrad=True, eps=0.0)),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1, epsilon=0.0), "AdamW",
     dict(lr=0.01, weight_decay=0.1, eps=0.0)),
    ("AdamW", dict(learning_rate=0.01, amsgrad=True, epsilon=0.0), "AdamW",
     dict(lr=0.01, weight_decay=0.004, amsgrad=True, eps=0.0)),
    ("Adagrad", dict(learning_rate=0.1, epsilon=0.0), "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
]


def run_torch(torch, cls_name, kwargs, inits, grads, clip=None):
    params = [torch.nn.Parameter(torch.tensor(v.copy())) for v in inits]
    opt = getattr(torch.optim, cls_name)(params, **kwargs)
    history = []
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g.copy())
        if clip is not None:
            clip(params)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


@pytest.mark.parametrize("case", TORCH_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_matches_torch(torch, case):
    cls_name, kwargs, torch_cls, torch_kwargs = case
    inits, grads = make_problem(1234)
    ours = run_rnnlab(cls_name, kwargs, inits, grads)
    ref = run_torch(torch, torch_cls, torch_kwargs, inits, grads)
    assert_histories_close(ours, ref, rtol=1e-5, atol=1e-5, label=f"torch {torch_cls} {torch_kwargs}")


def test_clipping_matches_torch(torch):
    inits, grads = make_problem(99)
    ours = run_rnnlab("SGD", dict(learning_rate=0.1, momentum=0.9, clipvalue=0.5), inits, grads)
    ref = run_torch(torch, "SGD", dict(lr=0.1, momentum=0.9), inits, grads,
                    clip=lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5))
    assert_histories_close(ours, ref, rtol=1e-5, atol=1e-5, label="clipvalue")
    # torch divides by (norm + 1e-6): equal to Keras's global clipping to well within 1e-5.
    ours = run_rnnlab("SGD", dict(learning_rate=0.1, global_clipnorm=2.0), inits, grads)
    ref = run_torch(torch, "SGD", dict(lr=0.1), inits, grads,
                    clip=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 2.0))
    assert_histories_close(ours, ref, rtol=1e-5, atol=1e-5, label="global_clipnorm")


def test_schedule_matches_torch_scheduler_without_momentum(torch):
    """ExponentialDecay(decay_steps=1) is torch's ExponentialLR, stepped after every update."""
    inits, grads = make_problem(5)
    sched = ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.9))
    ours = run_rnnlab("SGD", dict(schedule=sched), inits, grads)
    params = [torch.nn.Parameter(torch.tensor(v.copy())) for v in inits]
    opt = torch.optim.SGD(params, lr=0.1)
    lr_sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    for step, expected in zip(grads, ours):
        for p, g in zip(params, step):
            p.grad = torch.tensor(g.copy())
        opt.step()
        lr_sched.step()
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-5)


def test_momentum_with_schedule_differs_from_torch(torch):
    """Documents the one SGD difference: Keras keeps the learning rate inside the velocity, so with a
    decaying rate Keras's (and rnnlab's) momentum SGD is *not* torch's."""
    inits, grads = make_problem(5)
    sched = ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5))
    ours = run_rnnlab("SGD", dict(schedule=sched, momentum=0.9), inits, grads)
    params = [torch.nn.Parameter(torch.tensor(v.copy())) for v in inits]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    lr_sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g.copy())
        opt.step()
        lr_sched.step()
    assert not np.allclose(params[0].detach().numpy(), ours[-1][0], rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------------------------------------------
# behaviour without a reference framework
# ---------------------------------------------------------------------------------------------------------------

def test_state_is_keyed_by_path():
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 2)).astype("float32")
    g1, g2 = rng.standard_normal((2, 3, 2)).astype("float32")
    # Same local name, different paths: separate moments.
    a = FakeVar(init.copy(), "encoder/lstm_cell/kernel", name="kernel")
    b = FakeVar(init.copy(), "decoder/lstm_cell/kernel", name="kernel")
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply_gradients([(g1, a), (g2, b)])
    opt.apply_gradients([(g1, a), (g2, b)])
    assert set(opt.state) == {a.path, b.path}
    assert not np.allclose(opt.get_slot(a, "momentum"), opt.get_slot(b, "momentum"))
    # Each matches a run that only ever saw that variable.
    for var, g in ((a, g1), (b, g2)):
        alone = FakeVar(init.copy(), var.path)
        solo = optimizers.Adam(learning_rate=0.1)
        solo.apply_gradients([(g, alone)])
        solo.apply_gradients([(g, alone)])
        np.testing.assert_array_equal(alone.value, var.value)
        np.testing.assert_array_equal(solo.get_slot(var.path, "velocity"), opt.get_slot(var, "velocity"))

    # Same path, new object (e.g. a rebuilt layer): the state carries over.
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    first = FakeVar(init.copy(), "dense/kernel")
    opt.apply_gradients([(g1, first)])
    second = FakeVar(first.value.copy(), "dense/kernel")
    opt.apply_gradients([(g2, second)])
    ref_opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    ref = FakeVar(init.copy(), "dense/kernel")
    ref_opt.apply_gradients([(g1, ref)])
    ref_opt.apply_gradients([(g2, ref)])
    np.testing.assert_array_equal(second.value, ref.value)
    assert list(opt.state) == ["dense/kernel"]


def test_real_layer_weights_are_updated_in_place():
    layer = rnnlab.layers.Dense(3)
    layer(np.zeros((1, 2), "float32"))
    weights = layer.weights
    before = [w.value.copy() for w in weights]
    arrays = [w.value for w in weights]
    opt = optimizers.get("rmsprop")
    opt.apply([np.ones(w.shape, "float32") for w in weights], weights)
    for w, b, arr in zip(weights, before, arrays):
        assert w.value is arr and w.value.dtype == np.float32
        assert not np.array_equal(w.value, b)
    assert set(opt.state) == {w.path for w in weights}
    # After the first call (or build) the variables may be omitted.
    opt.apply([np.ones(w.shape, "float32") for w in weights])
    assert opt.iterations == 2


def test_build_then_apply_without_variables():
    variables = make_vars([np.ones(s, "float32") for s in SHAPES])
    opt = optimizers.Adagrad()
    opt.build(variables)
    assert opt.built and len(opt.variables) == len(variables)
    np.testing.assert_allclose(opt.get_slot(variables[0], "accumulator"), 0.1)
    opt.apply([np.ones(s, "float32") for s in SHAPES])
    assert opt.iterations == 1


def test_schedule_is_evaluated_before_the_increment():
    sched = schedules.PiecewiseConstantDecay(boundaries=[0], values=[1.0, 0.0])
    assert sched(0) == 1.0 and sched(1) == 0.0
    opt = optimizers.SGD(learning_rate=sched)
    var = FakeVar(np.zeros(2, "float32"), "w")
    assert opt.learning_rate == 1.0
    opt.apply_gradients([(np.ones(2, "float32"), var)])  # iteration 0: lr = schedule(0) = 1
    np.testing.assert_array_equal(var.value, -1.0)
    assert opt.learning_rate == 0.0
    opt.apply_gradients([(np.ones(2, "float32"), var)])  # iteration 1: lr = schedule(1) = 0
    np.testing.assert_array_equal(var.value, -1.0)


def test_learning_rate_property_and_setter():
    opt = optimizers.SGD(learning_rate=0.1)
    assert isinstance(opt.learning_rate, float)
    assert opt.learning_rate == float(np.float32(0.1))  # stored in float32, as Keras
    var = FakeVar(np.zeros(3, "float32"), "w")
    g = np.ones(3, "float32")
    opt.apply_gradients([(g, var)])
    opt.learning_rate = 0.05
    assert opt.learning_rate == float(np.float32(0.05))
    opt.apply_gradients([(g, var)])
    np.testing.assert_allclose(var.value, -0.15, rtol=1e-6)
    opt.learning_rate = np.float32(0.01)  # NumPy scalars are accepted
    opt.learning_rate = 1  # ints too
    with pytest.raises(ValueError, match="learning_rate.*-1"):
        opt.learning_rate = -1.0
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "fast"
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = float("nan")
    # A schedule may replace a constant; a float may not replace a schedule.
    opt.learning_rate = schedules.ExponentialDecay(0.1, 1, 0.5)
    assert opt.learning_rate == pytest.approx(0.1 * 0.5 ** 2)  # at iterations == 2
    with pytest.raises(TypeError, match="LearningRateSchedule.*not settable"):
        opt.learning_rate = 0.1
    # A zero-argument callable works too.
    opt = optimizers.Adam(learning_rate=lambda: 0.25)
    assert opt.learning_rate == 0.25


def test_nan_gradients_propagate_without_error():
    for opt in (optimizers.Adam(), optimizers.SGD(clipnorm=1.0), optimizers.RMSprop(global_clipnorm=1.0)):
        var = FakeVar(np.ones(3, "float32"), "w")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning from NumPy either
            opt.apply_gradients([(np.array([np.nan, 1.0, 1.0], "float32"), var)])
        assert np.isnan(var.value[0])


def test_missing_gradients_are_skipped_with_a_warning():
    a, b = make_vars([np.ones(s, "float32") for s in SHAPES])[:2]
    opt = optimizers.SGD(learning_rate=0.5)
    with pytest.warns(UserWarning, match="model/layer/bias"):
        opt.apply_gradients([(np.ones(a.shape, "float32"), a), (None, b)])
    np.testing.assert_array_equal(a.value, 0.5)
    np.testing.assert_array_equal(b.value, 1.0)
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply_gradients([(None, a), (None, b)])


def test_empty_apply_is_a_no_op():
    opt = optimizers.Adam()
    opt.apply_gradients([])
    opt.apply([], [])
    assert opt.iterations == 0


def test_variable_constraint_runs_after_the_update():
    var = FakeVar(np.zeros(3, "float32"), "w")
    var.constraint = lambda x: np.clip(x, -0.5, 0.5)
    optimizers.SGD(learning_rate=1.0).apply_gradients([(np.array([1.0, 0.25, -2.0], "float32"), var)])
    np.testing.assert_array_equal(var.value, [-0.5, -0.25, 0.5])


def test_float64_gradient_for_float32_variable_is_cast():
    var = FakeVar(np.zeros(2, "float32"), "w")
    optimizers.SGD(learning_rate=1.0).apply_gradients([(np.array([1.0, 2.0]), var)])
    assert var.value.dtype == np.float32
    np.testing.assert_array_equal(var.value, [-1.0, -2.0])


def test_get():
    for name in ("sgd", "SGD", "rmsprop", "RMSprop", "adam", "ADAM", "adamw", "AdamW", "adagrad", "nadam", "Nadam",
                 "adamax", "Adamax", "adadelta", "Adadelta", "lion", "Lion"):
        assert type(optimizers.get(name)).__name__.lower() == name.lower()
    opt = optimizers.Adam(learning_rate=0.02)
    assert optimizers.get(opt) is opt
    clone = optimizers.get(optimizers.serialize(opt))
    assert isinstance(clone, optimizers.Adam) and clone.get_config() == opt.get_config()
    assert optimizers.get({"class_name": "sgd", "config": {"momentum": 0.5}}).momentum == 0.5
    assert optimizers.get(None) is None
    cfg = optimizers.RMSprop(centered=True, momentum=0.3).get_config()
    assert optimizers.RMSprop.from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError) as exc:
        optimizers.get("nadamx")
    msg = str(exc.value)
    assert "`optimizer`" in msg and "'nadamx'" in msg and "adam" in msg and "sgd" in msg
    with pytest.raises(ValueError, match="optimizer"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="class_name"):
        optimizers.get({"learning_rate": 0.1})


# ---------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, exc, pattern", [
    (lambda: optimizers.SGD(learning_rate=-0.1), ValueError, r"learning_rate.*non-negative.*-0\.1"),
    (lambda: optimizers.SGD(learning_rate="0.1"), TypeError, r"learning_rate.*'0\.1'"),
    (lambda: optimizers.Adam(learning_rate=None), TypeError, r"learning_rate.*None"),
    (lambda: optimizers.Adam(learning_rate=float("inf")), ValueError, r"learning_rate"),
    (lambda: optimizers.SGD(momentum=1.5), ValueError, r"momentum.*\[0\.0, 1\.0\].*1\.5"),
    (lambda: optimizers.SGD(momentum=-0.1), ValueError, r"momentum.*-0\.1"),
    (lambda: optimizers.SGD(momentum="high"), TypeError, r"momentum.*'high'"),
    (lambda: optimizers.SGD(nesterov="yes"), TypeError, r"nesterov.*bool.*'yes'"),
    (lambda: optimizers.RMSprop(momentum=2.0), ValueError, r"momentum.*2\.0"),
    (lambda: optimizers.RMSprop(rho=1.1), ValueError, r"rho.*1\.1"),
    (lambda: optimizers.RMSprop(epsilon=-1e-7), ValueError, r"epsilon.*non-negative"),
    (lambda: optimizers.RMSprop(centered=1), TypeError, r"centered"),
    (lambda: optimizers.Adam(beta_1=1.0), ValueError, r"beta_1.*\[0\.0, 1\.0\).*1\.0"),
    (lambda: optimizers.Adam(beta_2=-0.5), ValueError, r"beta_2"),
    (lambda: optimizers.Adam(amsgrad=None), TypeError, r"amsgrad"),
    (lambda: optimizers.AdamW(weight_decay=None), ValueError, r"weight_decay.*None"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1.0), ValueError, r"initial_accumulator_value"),
    (lambda: optimizers.Adam(weight_decay=-0.1), ValueError, r"weight_decay.*-0\.1"),
    (lambda: optimizers.Adam(clipnorm=-1.0), ValueError, r"clipnorm"),
    (lambda: optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0), ValueError, r"Only one of"),
    (lambda: optimizers.Adam(clipnorm=1.0, clipvalue=1.0), ValueError, r"Only one of"),
    (lambda: optimizers.Adam(use_ema=True), ValueError, r"use_ema.*not supported"),
    (lambda: optimizers.Adam(gradient_accumulation_steps=4), ValueError,
     r"gradient_accumulation_steps.*not supported"),
    (lambda: optimizers.Adam(gradient_accumulation_steps=1), ValueError, r"gradient_accumulation_steps.*>= 2"),
    (lambda: optimizers.Adam(loss_scale_factor=0.0), ValueError, r"loss_scale_factor"),
    (lambda: optimizers.Nadam(beta_1=1.0), ValueError, r"beta_1.*\[0\.0, 1\.0\).*1\.0"),
    (lambda: optimizers.Nadam(epsilon="tiny"), TypeError, r"epsilon.*'tiny'"),
    (lambda: optimizers.Nadam(use_ema=True), ValueError, r"use_ema.*not supported"),
    (lambda: optimizers.Adamax(beta_2=1.5), ValueError, r"beta_2.*1\.5"),
    (lambda: optimizers.Adadelta(rho=-0.1), ValueError, r"rho.*-0\.1"),
    (lambda: optimizers.Adadelta(momentum=0.9), ValueError, r"not recognized.*momentum"),
    (lambda: optimizers.Lion(beta_1=0.0), ValueError, r"beta_1.*\(0, 1\].*SignSGD.*0\.0"),
    (lambda: optimizers.Lion(beta_1=1.1), ValueError, r"beta_1.*1\.1"),
    (lambda: optimizers.Lion(epsilon=1e-7), ValueError, r"not recognized.*epsilon"),
    (lambda: optimizers.Adam(beta3=0.5), ValueError, r"not recognized.*beta3"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), ValueError, r"decay_steps.*> 0.*0"),
    (lambda: schedules.CosineDecay(0.1, -5), ValueError, r"decay_steps"),
    (lambda: schedules.ExponentialDecay("0.1", 10, 0.9), TypeError, r"initial_learning_rate"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), ValueError, r"boundaries.*values"),
    (lambda: schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), ValueError, r"strictly increasing"),
])
def test_bad_constructor_arguments(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_bad_gradients():
    variables = make_vars([np.ones(s, "float32") for s in SHAPES])
    opt = optimizers.Adam()
    good = [np.ones(s, "float32") for s in SHAPES]
    bad = list(good)
    bad[1] = np.ones((5,), "float32")
    with pytest.raises(ValueError) as exc:
        opt.apply(bad, variables)
    msg = str(exc.value)
    assert "'model/layer/bias'" in msg and "(4,)" in msg and "(5,)" in msg
    # Nothing was touched: validation happens before any update.
    assert opt.iterations == 0 and all(np.all(v.value == 1) for v in variables)

    bad[1] = np.array(["a"] * 4)
    with pytest.raises(TypeError, match="model/layer/bias"):
        opt.apply(bad, variables)
    with pytest.raises(ValueError, match="3 gradients for 2 variables"):
        opt.apply(good, variables[:2])
    with pytest.raises(ValueError, match="build"):
        optimizers.SGD().apply(good)
    with pytest.raises(ValueError, match="pairs"):
        opt.apply_gradients([good[0]])
    with pytest.raises(TypeError, match="Variable"):
        opt.apply([good[0]], [np.ones((3, 4), "float32")])
    twins = [FakeVar(np.ones(4, "float32"), "x/bias"), FakeVar(np.ones(4, "float32"), "x/bias")]
    with pytest.raises(ValueError, match="share the path 'x/bias'"):
        opt.apply([good[1], good[1]], twins)
    # A variable whose shape changed under an existing path.
    opt.apply(good, variables)
    resized = FakeVar(np.ones((4, 4), "float32"), "model/layer/kernel")
    with pytest.raises(ValueError, match="model/layer/kernel.*\\(3, 4\\).*\\(4, 4\\)"):
        opt.apply([np.ones((4, 4), "float32")], [resized])
