"""Context, options, errors, RNG, log/progress callbacks, allocator hooks."""
import ctypes
import gc

import numpy as np
import pytest

import hessblock as hb

ALL_ERRORS = [
    (hb.InvalidArgument, -1, ValueError), (hb.OutOfMemory, -2, MemoryError),
    (hb.ShapeError, -3, ValueError), (hb.DtypeError, -4, TypeError),
    (hb.NotFound, -5, LookupError), (hb.NonFinite, -6, ArithmeticError),
    (hb.FileIOError, -7, OSError), (hb.FormatError, -8, ValueError),
    (hb.StateError, -9, RuntimeError), (hb.Unsupported, -10, NotImplementedError),
    (hb.RangeError, -11, IndexError), (hb.SizeOverflowError, -12, OverflowError),
    (hb.CallbackError, -13, RuntimeError), (hb.Canceled, -14, hb.Error)]


@pytest.mark.parametrize("cls,status,builtin", ALL_ERRORS)
def test_error_classes(cls, status, builtin):
    assert hb.error_class(status) is cls
    assert cls.status == status == hb.Status(status)
    e = cls("detail")
    assert isinstance(e, hb.Error) and isinstance(e, builtin)
    assert e.status == status and e.message == "detail"
    assert hb.strerror(status) in str(e) and "detail" in str(e)
    assert hb.strerror(status) != hb.strerror(999)   # each code has its own text


def test_every_c_status_has_one_class_and_member():
    # The C list (HB_STATUS_MAP, enumerated through hb_status_name) against the Python
    # table: a code added in C without its Python class fails here.
    from hessblock import errors
    codes = errors.C_CODES
    assert list(codes.values()) == list(range(0, -len(codes), -1))
    assert {c.status for c in errors._BY_STATUS.values()} == set(codes.values()) - {0}
    assert {cls.status for cls, _, _ in ALL_ERRORS} == set(codes.values()) - {0}
    for name, value in codes.items():
        assert hb.Status[name[3:]] == value
        assert hb.strerror(value) != "unknown status"
        if value != 0:
            assert errors.error_class(value).__doc__.startswith(name)
    assert len(hb.Status) == len(codes)


def test_unknown_status():
    assert hb.error_class(-999) is hb.Error
    assert hb.strerror(-999) == "unknown status"


def test_context_options(ctx):
    assert ctx.threads == 1
    ctx.threads = 2
    assert ctx.threads == 2 and ctx.get("threads") == 2
    ctx.seed = -5
    assert ctx.seed == -5
    with hb.Context(threads=3, seed=9) as c2:
        assert (c2.threads, c2.seed) == (3, 9)


def test_context_option_errors_carry_message(ctx):
    with pytest.raises(hb.InvalidArgument) as ei:
        ctx.threads = 0
    assert ei.value.status == hb.Status.EINVAL
    assert ei.value.message == ctx.last_error and ei.value.message   # detailed C message
    assert ctx.last_status == hb.Status.EINVAL
    with pytest.raises(hb.InvalidArgument):
        ctx.threads = 5000
    with pytest.raises(hb.InvalidArgument):
        ctx.set("nonsense", 1)
    with pytest.raises(hb.InvalidArgument):
        ctx.set(77, 1)


def test_random_is_deterministic(ctx):
    ctx.seed = 42
    s = ctx.next_stream()
    a = ctx.random(1000, "uniform", -1, 1, stream=s)
    b = ctx.random(1000, "uniform", -1, 1, stream=s)
    assert np.array_equal(a, b)
    assert a.min() >= -1 and a.max() < 1 and abs(a.mean()) < 0.1   # 1000 samples: sd 0.018
    # number i of the stream is a pure function of (seed, stream, i)
    tail = ctx.random(10, "uniform", -1, 1, stream=s, first=990)
    assert np.array_equal(tail, a[990:])
    r = ctx.random(500, hb.Distribution.RADEMACHER)
    assert set(np.unique(r)) == {-1.0, 1.0}
    out = np.zeros(2000)
    ctx.random(out=out, dist="normal", a=3.0, b=2.0)
    assert abs(out.mean() - 3) < 0.3 and abs(out.std() - 2) < 0.3   # sd of mean 0.045
    assert ctx.next_stream() != ctx.next_stream()


def test_random_errors(ctx):
    with pytest.raises(hb.InvalidArgument):
        ctx.random(10, "uniform", 1, 0)    # a >= b
    with pytest.raises(hb.InvalidArgument):
        ctx.random(10, "poisson")
    with pytest.raises(hb.InvalidArgument):
        ctx.random(out=np.zeros(3, dtype=np.float32))
    with pytest.raises(hb.InvalidArgument):
        ctx.random()


def test_log_callback_receives_errors(ctx):
    got = []
    ctx.set_log(lambda level, msg: got.append((level, msg)), hb.LogLevel.DEBUG)
    with pytest.raises(hb.InvalidArgument):
        ctx.threads = -1
    assert got and got[-1][0] == hb.LogLevel.ERROR and ctx.last_error in got[-1][1]
    ctx.set_log(None)
    n = len(got)
    with pytest.raises(hb.InvalidArgument):
        ctx.threads = -1
    assert len(got) == n


def test_log_callback_exception_is_reraised(ctx):
    class Boom(Exception):
        pass

    def log(level, msg):
        raise Boom(msg)

    ctx.set_log(log, "error")
    with pytest.raises(Boom) as ei:
        ctx.threads = -1
    assert isinstance(ei.value.__context__, hb.InvalidArgument)   # the C error is kept too
    ctx.threads = 2   # and nothing stays pending
    ctx.set_log(None)
    with pytest.raises(hb.InvalidArgument):
        ctx.set_log(log, 99)   # level out of range


def test_progress_install_remove(ctx):
    ctx.set_progress(lambda task, done, total: True)
    ctx.set_progress(None)


class MallocAllocator:
    """Counting allocator over libc malloc that fails the fail_at-th allocation."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def __init__(self, fail_at=0):
        self.fail_at, self.calls, self.live = fail_at, 0, set()

    def alloc(self, nbytes):
        self.calls += 1
        if self.calls == self.fail_at:
            return 0
        p = self.libc.malloc(nbytes)
        self.live.add(p)
        return p

    def free(self, p):
        self.live.remove(p)
        self.libc.free(p)


def _build(ctx):
    p = hb.Params(ctx)
    p.add_block("w", (4, 3))
    p.add_block("b", 4, "bias")
    p.finalize()
    return hb.Model.from_callbacks(ctx, p, lambda th: (float(th @ th), 2 * th))


def test_allocator_hooks_and_oom_loop():
    a = MallocAllocator()
    with hb.Context(allocator=a) as c:
        m = _build(c)
        assert m.loss() == 0.0
        assert a.live
    assert not a.live and a.calls > 3   # everything freed through the hooks
    # every allocation failure on the create path is a clean OutOfMemory
    k, failures = 1, 0
    while True:
        a = MallocAllocator(fail_at=k)
        try:
            with hb.Context(allocator=a) as c:
                _build(c).close()
            break
        except hb.OutOfMemory as e:
            failures += 1
            assert e.status == hb.Status.ENOMEM
        finally:
            gc.collect()
            assert not a.live, "leak after failing allocation %d" % k
        k += 1
    assert failures >= 3


def test_allocator_exception_propagates():
    class Bad(MallocAllocator):
        def alloc(self, nbytes):
            if self.calls >= 1:
                raise RuntimeError("allocator broke")
            return super().alloc(nbytes)

    a = Bad()
    with hb.Context(allocator=a) as c:
        with pytest.raises(RuntimeError, match="allocator broke"):
            hb.Params(c)
    assert not a.live


def test_allocator_free_exception_surfaces_at_close():
    class BadFree(MallocAllocator):
        def free(self, p):
            super().free(p)
            if not self.live:     # the context's own block, freed last
                raise RuntimeError("free hook broke")

    a = BadFree()
    c = hb.Context(allocator=a)
    p = hb.Params(c)
    p.close()
    with pytest.raises(RuntimeError, match="free hook broke"):
        c.close()
    assert c.closed and not a.live
    with hb.Context() as c2:     # nothing left pending for unrelated calls
        c2.threads = 1
