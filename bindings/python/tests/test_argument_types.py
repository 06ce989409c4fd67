"""Wrong argument types raise Python exceptions, never crash the interpreter (issue 12.7).

ctypes passes every handle as a void pointer, so before the type checks a Spectrum given
as a Model was reinterpreted by C (segfaults, error messages written into the wrong
struct). These tests run in a subprocess under `-X faulthandler`: a crash fails the test
with the C-level traceback instead of killing pytest.
"""
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "fuzz_arguments.py")
SEED = 20261206


def _python(args, cwd, timeout):
    import hessblock   # the child imports the same package as this process
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(hessblock.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run([sys.executable, "-X", "faulthandler"] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _ok(r):
    return "exit status %d\n--- stdout\n%s\n--- stderr\n%s" % (
        r.returncode, r.stdout[-6000:], r.stderr[-6000:])


def test_issue_examples_raise_type_error(tmp_path):
    code = textwrap.dedent("""
        import numpy as np, hessblock as hb
        ctx = hb.Context(seed=1)
        slq = hb.SLQ(ctx)
        model = hb.Model(ctx, "quadratic", quad_blocks=2, quad_block_size=3)
        def type_error(fn, *names):
            try:
                fn()
            except TypeError as e:
                assert isinstance(e, hb.InvalidArgument), repr(e)
                for n in names:
                    assert n in str(e), (n, str(e))
                return
            raise AssertionError("no TypeError")
        type_error(lambda: hb.Params(slq), "ctx", "hessblock.Context", "hessblock.SLQ")
        type_error(lambda: hb.Params(3), "ctx", "hessblock.Context", "int")
        type_error(lambda: hb.Trainer(hb.Spectrum(ctx, 3)), "model", "hessblock.Model", "Spectrum")
        type_error(lambda: hb.SSTConfig(slq), "ctx", "hessblock.Context")
        type_error(lambda: hb.Spectrum(model, 0), "ctx", "hessblock.Context", "Model")
        type_error(lambda: hb.Trainer(model, slq), "optimizer", "hessblock.Optimizer or None")
        type_error(lambda: slq.run(hb.Spectrum(ctx, 3)), "target")
        type_error(lambda: model.hvp([1.0] * 6), "v", "numpy")
        # nothing was written into the model: it still works, the context's message is
        # the last type error's business only (none reached C)
        assert model.params.count == 6 and np.isfinite(model.loss())
        assert ctx.last_error == "" and ctx.last_status == 0
        print("examples ok")
    """)
    r = _python(["-c", code], str(tmp_path), 120)
    assert r.returncode == 0 and "examples ok" in r.stdout, _ok(r)


def test_fuzzed_arguments_never_crash(tmp_path):
    """Every public callable, every parameter, every kind of wrong value (fixed seed;
    about 20 s on one core)."""
    r = _python([FUZZ, str(SEED), str(tmp_path)], str(tmp_path), 280)
    assert r.returncode == 0 and "fuzz ok" in r.stdout, _ok(r)
