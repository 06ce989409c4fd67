"""Argument fuzzer of the Python bindings (run by test_argument_types.py in a subprocess
under `python3 -X faulthandler`, so a segfault shows its traceback and fails that test).

Every public handle class of `hessblock` and every public function of the package and of
its component modules is found by introspection (new API is covered without editing this
file). Each parameter of each callable in turn receives every "bad" value -- a handle of
every class, None, ints, floats, strings, bytes, arbitrary objects, lists and numpy
arrays of wrong dtype/shape/layout -- while the other parameters keep a valid value (the
GOOD table, by parameter name, with per-callable overrides; a new required parameter name
without an entry fails the run, naming it). Every call must either succeed or raise an
ordinary Python exception; AttributeError, ctypes.ArgumentError and AssertionError are
failures too (they mean a wrong object got further than the type checks). After each
parameter's round, the objects of the world must still work and the context's last error
must be sane (a wrong handle that C wrote an error message into would show here).

usage: fuzz_arguments.py SEED [WORKDIR]   (exit 0 and 'fuzz ok' on success)
"""
import ctypes
import faulthandler
import gc
import inspect
import math
import os
import sys
import time

import numpy as np

import hessblock as hb
from hessblock._handle import Handle

# Modules whose public functions are fuzzed besides hessblock's own namespace. Left out:
# errors (check/raise_status take raw status codes and pointers: internal machinery),
# study (compositions of the classes fuzzed here whose good arguments run whole training
# sweeps: too slow for the bound; their handle arguments are type-checked by expect()),
# plot (pure numpy/matplotlib, never reaches C).
MODULES = ("core", "tensor", "params", "model", "slq", "optim", "checkpoint", "train", "sst",
           "net")
# Lifecycle and no-argument introspection helpers: nothing to fuzz, and close() would end
# the world early.
SKIP_METHODS = {"close"}
WATCHDOG_S = 30          # one call hanging longer than this dumps the stack and exits
N_QUAD = 6               # parameters of the world's quadratic model (2 blocks of 3)


def make_world():
    """One fresh object of every public handle class, all from one context."""
    ctx = hb.Context(seed=7)
    w = {"Context": ctx}
    w["Tensor"] = hb.Tensor.zeros(ctx, (2, 3))
    p = hb.Params(ctx)
    p.add_block("a", (2,))
    p.add_block("b", (3,))
    p.finalize()
    w["Params"] = p
    w["ModelConfig"] = hb.ModelConfig(ctx, "quadratic", quad_blocks=2, quad_block_size=3)
    m = hb.Model(ctx, w["ModelConfig"])
    m.params.data[:] = np.linspace(-1, 1, N_QUAD)
    w["Model"] = m
    w["LinOp"] = hb.LinOp.dense(ctx, np.diag([1.0, 2.0, 3.0]))
    sp = hb.Spectrum(ctx, 3)
    sp.add_probe([1.0, 2.0], [0.5, 0.5])
    w["Spectrum"] = sp
    w["SLQ"] = hb.SLQ(ctx, probes=2, steps=3)
    w["Optimizer"] = hb.Optimizer(ctx, "sgd", m.params, lr=0.01)
    w["Trainer"] = hb.Trainer(m, w["Optimizer"])
    w["SSTConfig"] = hb.SSTConfig(ctx, "spectral", rank=1, kinds=["linear"])
    mlp = hb.Model(ctx, "mlp", inputs=3, width=4, layers=1, classes=2, batch=4)
    mlp.set_synthetic()
    w["mlp"] = mlp
    w["SSTModel"] = hb.SSTModel(mlp, w["SSTConfig"])
    w["CheckpointInfo"] = hb.CheckpointInfo.from_bytes(ctx, hb.checkpoint.to_bytes(mlp.params))
    w["TextCorpus"] = hb.TextCorpus.from_buffers(ctx, [b"abcab cab\n" * 3, b"a bc\n" * 4])
    if hasattr(hb, "Net") and "net" in hb.components:
        net = hb.Net(ctx)
        net.input_features("x", (3,))
        net.linear("fc", "x", "h", 3)
        w["Net"] = net
    return w


def handle_classes():
    return sorted({o for o in vars(hb).values()
                   if inspect.isclass(o) and issubclass(o, Handle) and o is not Handle},
                  key=lambda c: c.__name__)


def callables():
    """(label, getter(world) -> callable, signature) for every public callable."""
    out = []
    for cls in handle_classes():
        for name, attr in sorted(vars_all(cls).items()):
            if name in SKIP_METHODS or (name.startswith("_") and name not in (
                    "__init__", "__getitem__", "__setitem__", "__matmul__", "__contains__")):
                continue
            if isinstance(attr, property):
                if attr.fset is not None:       # fuzz the setter: obj.prop = bad
                    out.append(("%s.%s=" % (cls.__name__, name),
                                lambda w, c=cls, n=name: (lambda value: setattr(w[c.__name__], n, value)),
                                inspect.Signature([inspect.Parameter(
                                    "value", inspect.Parameter.POSITIONAL_OR_KEYWORD)])))
                continue
            if isinstance(attr, (classmethod, staticmethod)):
                get = lambda w, c=cls, n=name: getattr(c, n)  # noqa: E731
            elif name == "__init__":
                get = lambda w, c=cls: c  # noqa: E731
            elif inspect.isfunction(attr):
                get = lambda w, c=cls, n=name: getattr(w[c.__name__], n)  # noqa: E731
            else:
                continue
            fn = getattr(cls, name)
            sig = inspect.signature(fn)
            if name == "__init__" or inspect.isfunction(attr):
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])  # drop self
            out.append(("%s.%s" % (cls.__name__, name), get, sig))
    seen = set()
    for modname in (None,) + MODULES:
        mod = hb if modname is None else getattr(hb, modname)
        for name, fn in sorted(vars(mod).items()):
            if (name.startswith("_") or not inspect.isfunction(fn) or fn in seen
                    or not fn.__module__.startswith("hessblock.")
                    or fn.__module__.split(".")[1] not in MODULES):
                continue
            seen.add(fn)
            out.append(("%s.%s" % (fn.__module__, name), lambda w, f=fn: f,
                        inspect.signature(fn)))
    return out


def vars_all(cls):
    """Attributes of cls and its hessblock bases (subclass first), unwrapped."""
    attrs = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("hessblock"):
            attrs.update(vars(klass))
    return attrs


# ---- valid values ------------------------------------------------------------------------
def _loss_grad(theta):
    return 0.5 * float(theta @ theta), np.array(theta)


GOOD = {   # parameter name -> world -> a valid value
    "ctx": lambda w: w["Context"], "model": lambda w: w["Model"], "target": lambda w: w["Model"],
    "inner": lambda w: w["mlp"], "params": lambda w: w["Params"],
    "optimizer": lambda w: w["Optimizer"], "config": lambda w: w["ModelConfig"],
    "op": lambda w: w["LinOp"], "other": lambda w: w["Spectrum"],
    "spectra": lambda w: [w["Spectrum"], w["Spectrum"]], "src": lambda w: w["Tensor"],
    "key": lambda w: 1, "value": lambda w: 1, "kind": lambda w: 1, "block": lambda w: 0,
    "i": lambda w: 0, "p": lambda w: 0, "n": lambda w: 3, "name": lambda w: "a",
    "shape": lambda w: (2,), "pattern": lambda w: "*", "fn": lambda w: (lambda *a: None),
    "loss_grad": lambda w: _loss_grad, "steps": lambda w: 2, "step": lambda w: 0,
    "warmup": lambda w: 1, "total": lambda w: 10, "offset": lambda w: 0, "length": lambda w: 1,
    "order": lambda w: 1, "every": lambda w: 1, "path": lambda w: "fuzz.out",
    "data": lambda w: b"not a checkpoint", "v": lambda w: np.ones(N_QUAD),
    "V": lambda w: np.ones((2, N_QUAD)), "X": lambda w: np.ones(3), "A": lambda w: np.eye(3),
    "array": lambda w: np.zeros(3), "inputs": lambda w: np.zeros((4, 3)),
    "targets": lambda w: np.zeros(4, np.int32), "nodes": lambda w: [1.0, 2.0],
    "images": lambda w: np.zeros((4, 1, 3), np.int32), "labels": lambda w: np.zeros(4, np.int32),
    "weights": lambda w: [0.5, 0.5], "grid": lambda w: np.linspace(0, 3, 5),
    "vector": lambda w: np.zeros(5), "x": lambda w: 1.0, "bits": lambda w: 0x3F80,
    "status": lambda w: -1, "dtype": lambda w: "f64", "k": lambda w: 1,
    "enum_cls": lambda w: hb.DType, "what": lambda w: "thing", "init": lambda w: "zeros",
    # hb.Net: activation and block names, sizes
    "inp": lambda w: "x", "out": lambda w: "y", "a": lambda w: "x", "b": lambda w: "h",
    "width": lambda w: 2, "out_features": lambda w: 2, "bias": lambda w: True, "eps": lambda w: 0.0,
    "heads": lambda w: 1, "act": lambda w: "relu", "out_channels": lambda w: 2,
    "kernel": lambda w: 1, "padding": lambda w: 0, "size": lambda w: 1, "logits": lambda w: "h",
    "prediction": lambda w: "h", "new_name": lambda w: "fc.w2", "context": lambda w: 3,
    "vocab": lambda w: 5,
    # hb.TextCorpus
    "paths": lambda w: [__file__], "sources": lambda w: [b"some text"],
    "corpus": lambda w: w["TextCorpus"], "split": lambda w: "train", "token": lambda w: 0,
    "byte": lambda w: 97, "n_batches": lambda w: 1, "first": lambda w: 0,
}
OVERRIDE = {   # (callable label, parameter) -> world -> a valid value
    ("SSTModel.__init__", "config"): lambda w: w["SSTConfig"],
    ("SSTModel.__init__", "inner"): lambda w: w["mlp"],
    ("Optimizer.__init__", "kind"): lambda w: "sgd",
    ("Model.__init__", "config"): lambda w: w["ModelConfig"],
    ("ModelConfig.__init__", "kind"): lambda w: "quadratic",
    ("Context.set_log", "fn"): lambda w: (lambda level, msg: None),
    ("Context.set_progress", "fn"): lambda w: (lambda task, done, total: True),
    ("Optimizer.schedule", "fn"): lambda w: (lambda step: 1.0),
    ("LinOp.from_callable", "fn"): lambda w: (lambda x: np.array(x)),
    ("Trainer.set_data_fn", "fn"): lambda w: (lambda model, step: None),
    ("Trainer.set_eval_fn", "fn"): lambda w: (lambda model, step: None),
    ("hessblock.optim.save_checkpoint", "params"): lambda w: w["Model"].params,
    ("hessblock.optim.load_checkpoint", "params"): lambda w: w["Model"].params,
    ("hessblock.optim.checkpoint_size", "params"): lambda w: w["Model"].params,
    ("hessblock.optim.checkpoint_bytes", "params"): lambda w: w["Model"].params,
    ("hessblock.optim.load_checkpoint_bytes", "params"): lambda w: w["Model"].params,
    ("hessblock.tensor.as_input", "arr"): lambda w: np.zeros(3),
    ("hessblock.tensor.check_array", "arr"): lambda w: np.zeros(3),
    ("hessblock.tensor.to_dtype", "value"): lambda w: "f64",
    ("hessblock.core.to_enum", "value"): lambda w: "f64",
    ("hessblock.tensor.dtype_size", "dtype"): lambda w: 2,
    ("Context.random", "n"): lambda w: 3,
    ("Model.quadratic", "eigenvalues"): lambda w: [[1.0, 2.0], [3.0]],
    ("ModelConfig.get_f64", "key"): lambda w: "quad_cond",
    ("ModelConfig.set_f64", "key"): lambda w: "quad_cond",
    ("Optimizer.get_i64", "key"): lambda w: "nesterov",
    ("Optimizer.set_i64", "key"): lambda w: "nesterov",
    ("Optimizer.lr_factor", "step"): lambda w: 1,
    ("Optimizer.override_kind", "kind"): lambda w: "other",
    ("SLQ.get_f64", "key"): lambda w: "breakdown_tol",
    ("SLQ.set_f64", "key"): lambda w: "breakdown_tol",
    ("SSTConfig.set_f64", "key"): lambda w: "uniform_mix",
    ("Trainer.get_i64", "key"): lambda w: "eval_every",
    ("Trainer.set_i64", "key"): lambda w: "eval_every",
    ("Net.set_init", "a"): lambda w: 0.0, ("Net.set_init", "b"): lambda w: 0.0,
    ("Net.set_init", "block"): lambda w: "fc.weight",
    ("Net.rename_block", "block"): lambda w: "fc.weight",
    ("Net.set_block_kind", "block"): lambda w: "fc.weight",
    ("Net.pool2d", "kind"): lambda w: "max",
    ("Net.linear", "kind"): lambda w: None,
    ("Model.set_corpus", "corpus"): lambda w: w["TextCorpus"],
}


def good(label, pname, w):
    f = OVERRIDE.get((label, pname)) or GOOD.get(pname)
    if f is None:
        raise KeyError("no valid value for parameter %r of %s: add one to GOOD in %s"
                       % (pname, label, os.path.basename(__file__)))
    return f(w)


# ---- invalid values ----------------------------------------------------------------------
def bad_values(w, w2, rng):
    """Every kind of wrong argument, the random arrays drawn from rng. w2: a second world
    (another context), whose handles are of the right class but belong elsewhere."""
    vals = [(k, v) for k, v in w.items()]                     # a handle of every class
    vals += [("other context's " + k, v) for k, v in w2.items()]
    vals += [("None", None), ("-1", -1), ("0", 0), ("7", 7), ("2**63", 2 ** 63),
             ("2.5", 2.5), ("nan", math.nan), ("''", ""), ("'zzz'", "zzz"),
             ("bytes", b"\xff\x00"), ("object()", object()), ("list", [1.0, 2.0]),
             ("tuple", (1, -2)), ("dict", {"a": 1}), ("lambda", lambda *a: 1),
             ("np.float64", np.float64(1.5)), ("np.int64", np.int64(2))]
    ncontig = np.ones((N_QUAD, 2))[:, 0]
    ro = np.ones(N_QUAD)
    ro.flags.writeable = False
    vals += [("non-contiguous", ncontig), ("read-only", ro), ("0-d", np.array(1.0)),
             ("empty", np.zeros(0)), ("object array", np.array([None, 1], dtype=object))]
    for j in range(6):
        ndim = int(rng.integers(0, 4))
        shape = tuple(int(s) for s in rng.integers(0, 5, size=ndim))
        dtype = rng.choice(["f8", "f4", "i8", "i4", "c16", "?", "u2", "f2"])
        vals.append(("array%s:%s" % (shape, dtype), (rng.standard_normal(shape) * 3).astype(dtype)))
    return vals


FORBIDDEN = (AttributeError, ctypes.ArgumentError, AssertionError, NameError)


def sane(w, where):
    """The world still works after a round of bad calls."""
    problems = []
    ctx = w["Context"]
    try:
        msg = ctx.last_error
        if not isinstance(msg, str) or len(msg) > 1024 or ctx.last_status > 0:
            problems.append("context last error is not sane: %r" % (msg,))
        if not w["Model"].closed:
            n = w["Model"].params.count
            if n != N_QUAD or w["Model"].name != "quadratic":
                problems.append("model changed: n=%d name=%r" % (n, w["Model"].name))
            w["Model"].loss()
            w["Model"].hvp(np.ones(N_QUAD))
        if not w["Spectrum"].closed and w["Spectrum"].dim != 3:
            problems.append("spectrum changed: dim %d" % w["Spectrum"].dim)
        if not w["SLQ"].closed:
            w["SLQ"]["probes"]
        for h in w.values():
            repr(h)
    except Exception as e:  # noqa: BLE001 - report anything
        problems.append("%s: %r" % (type(e).__name__, e))
    return ["%s: %s" % (where, p) for p in problems]


def main():
    seed = int(sys.argv[1])
    if len(sys.argv) > 2:
        os.chdir(sys.argv[2])    # files some calls write (save_json, checkpoints) land here
    rng = np.random.default_rng(seed)
    faulthandler.enable()
    t0 = time.monotonic()
    failures, n_calls = [], 0
    world_classes = set(make_world()) - {"mlp"}
    missing = [c.__name__ for c in handle_classes() if c.__name__ not in world_classes]
    if missing:
        print("no world object for handle classes %s: add them to make_world" % missing)
        return 1
    todo = callables()
    order = rng.permutation(len(todo))
    for idx in order:
        label, get, sig = todo[idx]
        params = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)]
        positions = range(len(params)) if params else [None]
        for pos in positions:
            w, w2 = make_world(), make_world()
            try:
                bads = bad_values(w, w2, rng) if pos is not None else [(None, None)]
                for bad_name, bad in bads:
                    args = {}
                    for j, p in enumerate(params):
                        if j == pos:
                            args[p.name] = bad
                        elif p.default is p.empty or (label, p.name) in OVERRIDE:
                            args[p.name] = good(label, p.name, w)
                    what = "%s(%s=%s)" % (label, params[pos].name if pos is not None else "",
                                          bad_name if pos is not None else "")
                    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
                    n_calls += 1
                    try:
                        fn = get(w)
                        if params and params[0].kind == params[0].POSITIONAL_ONLY:
                            fn(*args.values())
                        else:
                            fn(**args)
                    except FORBIDDEN as e:
                        failures.append("%s raised %s: %s" % (what, type(e).__name__, e))
                    except Exception:   # noqa: BLE001 - any ordinary exception is fine
                        pass
                    finally:
                        faulthandler.cancel_dump_traceback_later()
                where = "after %s(%s=...)" % (label, params[pos].name if pos is not None else "")
                failures += sane(w, where) + sane(w2, where + " (second context)")
            finally:
                w["Context"].close()
                w2["Context"].close()
                del w, w2
                gc.collect()
    dt = time.monotonic() - t0
    print("fuzz: %d callables, %d calls, %.1f s" % (len(todo), n_calls, dt))
    for f in failures:
        print("FAIL", f)
    if failures:
        return 1
    print("fuzz ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
