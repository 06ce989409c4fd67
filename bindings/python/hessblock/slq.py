"""Spectral estimation (slq.h): linear operators, SLQ spectra, Hutchinson traces, top-k
eigenvalues and Jensen-Shannon heterogeneity between block spectra.

    with hb.SLQ(ctx, probes=10, steps=80) as slq:
        sp = slq.run(model, block="h.0.attn.wq")      # a Spectrum
        grid = np.linspace(*sp.extremes(), 200); d = sp.density(grid)
        spectra, js, mean = slq.block_heterogeneity(model, normalize=True)
"""
import ctypes
import enum
import json
from collections import namedtuple

import numpy as np

from . import _lib
from ._handle import Handle, require, type_error, view
from .core import Context, to_enum
from .errors import InvalidArgument, RangeError, Unsupported, store_exception
from .model import Model
from .tensor import DType, check_array, to_dtype

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER
PD = P(c_double)


declare = _lib.declare_optional  # this component may be absent from the library


class SLQOption(enum.IntEnum):
    PROBES = 1
    STEPS = 2
    REORTH = 3
    PROBE_DIST = 4
    BASIS_DTYPE = 5
    STREAM = 6
    TOPK_MAX_STEPS = 7
    GROUP = 8                  # probes advanced in lockstep by one task
    BREAKDOWN_TOL = 20
    TOPK_TOL = 21
    STAT_APPLY_CALLS = 40      # read-only statistics of the last run/trace/topk
    STAT_APPLY_VECTORS = 41
    STAT_APPLY_SECONDS = 42
    STAT_TOTAL_SECONDS = 43


class Reorth(enum.IntEnum):
    NONE = 1
    FULL = 2


class Probe(enum.IntEnum):
    RADEMACHER = 1
    GAUSSIAN = 2


class EigWhich(enum.IntEnum):
    LARGEST = 1
    SMALLEST = 2
    LARGEST_MAGNITUDE = 3


_REAL = {SLQOption.BREAKDOWN_TOL, SLQOption.TOPK_TOL, SLQOption.STAT_APPLY_SECONDS,
         SLQOption.STAT_TOTAL_SECONDS}
_ENUMS = {SLQOption.REORTH: Reorth, SLQOption.PROBE_DIST: Probe}


class JSGrid(enum.IntEnum):
    """hb_js_grid: the axis of the JS densities (docs/spectral.md)."""
    LINEAR = 0
    SYMLOG = 1


class _JSOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("normalize", c_int), ("grid_points", c_size_t),
                ("sigma_rel", c_double), ("grid", c_int), ("symlog_floor_rel", c_double),
                ("zero_rel_tol", c_double), ("keep_zero", c_int)]


def _js_options(normalize=False, grid_points=1024, sigma_rel=0.01, grid="linear",
                symlog_floor_rel=1e-6, zero_rel_tol=None, keep_zero=False):
    # zero_rel_tol None = automatic (the C default −1: the spectra's unit roundoff)
    return _JSOptions(ctypes.sizeof(_JSOptions), int(bool(normalize)), int(grid_points),
                      float(sigma_rel), int(to_enum(JSGrid, grid, "grid")), float(symlog_floor_rel),
                      -1.0 if zero_rel_tol is None else float(zero_rel_tol), int(bool(keep_zero)))


LINOP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, PD, PD, c_size_t)

_op_dense = declare("hb_linop_create_dense", c_int, [c_void_p, PD, c_size_t, c_int, P(c_void_p)])
_op_callback = declare("hb_linop_create_callback", c_int,
                       [c_void_p, c_size_t, LINOP_FN, c_void_p, P(c_void_p)])
_op_model = declare("hb_linop_create_model_hessian", c_int, [c_void_p, P(c_void_p)])
_op_block = declare("hb_linop_create_model_block", c_int, [c_void_p, c_size_t, P(c_void_p)])
_op_free = declare("hb_linop_free", None, [c_void_p])
_op_size = declare("hb_linop_size", c_size_t, [c_void_p])
_op_apply = declare("hb_linop_apply", c_int, [c_void_p, c_size_t, PD, PD])

_slq_create = declare("hb_slq_create", c_int, [c_void_p, P(c_void_p)])
_slq_free = declare("hb_slq_free", None, [c_void_p])
_slq_set_i64 = declare("hb_slq_set_i64", c_int, [c_void_p, c_int, c_int64])
_slq_get_i64 = declare("hb_slq_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_slq_set_f64 = declare("hb_slq_set_f64", c_int, [c_void_p, c_int, c_double])
_slq_get_f64 = declare("hb_slq_get_f64", c_int, [c_void_p, c_int, PD])
_slq_run = declare("hb_slq_run", c_int, [c_void_p, c_void_p, P(c_void_p)])
_slq_run_model = declare("hb_slq_run_model", c_int, [c_void_p, c_void_p, P(c_void_p)])
_slq_run_block = declare("hb_slq_run_model_block", c_int,
                         [c_void_p, c_void_p, c_size_t, P(c_void_p)])
_BLOCK_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)
_slq_run_blocks = declare("hb_slq_run_model_blocks", c_int,
                          [c_void_p, c_void_p, P(c_size_t), P(ctypes.c_uint64), c_size_t,
                           P(c_void_p), _BLOCK_FN, c_void_p])
FULL_HESSIAN = ctypes.c_size_t(-1).value  # HB_SLQ_FULL_HESSIAN: an entry of run_blocks
_slq_trace = declare("hb_slq_trace", c_int, [c_void_p, c_void_p, PD, PD])
_slq_trace_blocks = declare("hb_slq_trace_model_blocks", c_int, [c_void_p, c_void_p, PD, PD])
_slq_topk = declare("hb_slq_topk", c_int, [c_void_p, c_void_p, c_size_t, c_int, PD, PD, PD,
                                           P(c_size_t)])
_slq_topk_blocks = declare("hb_slq_topk_model_blocks", c_int,
                           [c_void_p, c_void_p, P(c_size_t), P(ctypes.c_uint64), c_size_t,
                            c_size_t, c_int, PD, PD, P(c_size_t)])
_slq_hetero = declare("hb_slq_block_heterogeneity", c_int,
                      [c_void_p, c_void_p, P(_JSOptions), P(c_void_p), PD, PD])

_sp_create = declare("hb_spectrum_create", c_int, [c_void_p, c_size_t, P(c_void_p)])
_sp_add = declare("hb_spectrum_add_probe", c_int, [c_void_p, PD, PD, c_size_t])
_sp_restore = declare("hb_spectrum_restore_probe", c_int, [c_void_p, PD, PD, c_size_t, c_int])
_sp_set_uround = declare("hb_spectrum_set_unit_roundoff", c_int, [c_void_p, c_double])
_sp_free = declare("hb_spectrum_free", None, [c_void_p])
_sp_dim = declare("hb_spectrum_dim", c_size_t, [c_void_p])
_sp_num_probes = declare("hb_spectrum_num_probes", c_size_t, [c_void_p])
_sp_probe = declare("hb_spectrum_probe", c_int,
                    [c_void_p, c_size_t, P(PD), P(PD), P(c_size_t), P(c_int)])
_sp_density = declare("hb_spectrum_density", c_int, [c_void_p, PD, c_size_t, c_double, PD])
_sp_default_sigma = declare("hb_spectrum_default_sigma", c_double, [c_void_p])
_sp_moment = declare("hb_spectrum_moment", c_int, [c_void_p, c_int, PD, PD])
_sp_trace = declare("hb_spectrum_trace", c_int, [c_void_p, PD, PD])
_sp_extremes = declare("hb_spectrum_extremes", c_int, [c_void_p, PD, PD])
_sp_save_json = declare("hb_spectrum_save_json", c_int, [c_void_p, c_char_p])
_sp_save_csv = declare("hb_spectrum_save_csv", c_int, [c_void_p, c_char_p])
_sp_to_json = declare("hb_spectrum_to_json", c_int, [c_void_p, c_char_p, c_size_t, P(c_size_t)])
_sp_to_csv = declare("hb_spectrum_to_csv", c_int, [c_void_p, c_char_p, c_size_t, P(c_size_t)])
_sp_js = declare("hb_spectrum_js_distance", c_int, [c_void_p, c_void_p, P(_JSOptions), PD])
_js_matrix = declare("hb_spectra_js_matrix", c_int,
                     [P(c_void_p), c_size_t, P(_JSOptions), PD, PD])
_zero_flags = declare("hb_spectra_zero_flags", c_int,
                      [P(c_void_p), c_size_t, P(_JSOptions), P(c_int), P(c_size_t), PD])
_sp_unit_roundoff = declare("hb_spectrum_unit_roundoff", c_double, [c_void_p])
_js_matrix_stderr = declare("hb_spectra_js_matrix_stderr", c_int,
                            [P(c_void_p), c_size_t, P(_JSOptions), c_size_t, ctypes.c_uint64, PD, PD])

AVAILABLE = _slq_create is not None


def _need(fn, name):
    if fn is None:
        raise Unsupported("%s is not in the loaded libhessblock (%s)" % (name, _lib.path), -10)
    return fn


def _pd(arr):
    return arr.ctypes.data_as(PD)


def _vectors(x, n, what):
    """(k, x2d) for a float64 C-contiguous (n,) or (k, n) array."""
    check_array(x, what, (np.float64,))
    if x.size == 0 or x.size % n:
        raise InvalidArgument("%s has %d elements, not a positive multiple of n = %d"
                              % (what, x.size, n), -1)
    return x.size // n


class LinOp(Handle):
    """hb_linop: a symmetric operator y = A·x on float64 vectors of length n.

    LinOp.dense(ctx, A, copy=True), LinOp.from_callable(ctx, n, fn),
    LinOp.hessian(model), LinOp.block(model, block). An operator keeps what it was made
    from alive (the model, a borrowed matrix)."""

    def __init__(self, *a, **k):
        raise TypeError("use LinOp.dense / from_callable / hessian / block")

    @classmethod
    def _adopt(cls, ctx, ptr, parent, keep=None):
        op = object.__new__(cls)
        op._ctx = ctx
        op._init_handle(ptr, _op_free, parent, keep=keep)
        return op

    @classmethod
    def dense(cls, ctx, A, copy=True):
        """hb_linop_create_dense over a symmetric (n, n) float64 array (copy=False borrows
        it zero-copy; the operator keeps the array alive)."""
        ctx_ptr = require(ctx, Context, "ctx")
        check_array(A, "A", (np.float64,))
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise InvalidArgument("A must be square, got shape %s" % (A.shape,), -1)
        out = c_void_p()
        ctx._check(_need(_op_dense, "hb_linop_create_dense")(
            ctx_ptr, _pd(A), A.shape[0], 0 if not copy else 1, ctypes.byref(out)))
        return cls._adopt(ctx, out.value, ctx, keep=None if copy else A)

    @classmethod
    def from_callable(cls, ctx, n, fn):
        """hb_linop_create_callback: fn(x) -> A·x for one float64 vector x (read-only view,
        valid during the call). Exceptions in fn are re-raised by the calling method."""
        ctx_ptr = require(ctx, Context, "ctx")
        if not callable(fn):
            raise type_error("fn", "a callable", fn)
        holder = {}

        def tramp(user, x, y, nn):
            try:
                xv = view(holder["res"], ctypes.cast(x, c_void_p).value, (nn,), np.float64, True)
                r = np.asarray(fn(xv), dtype=np.float64).reshape(-1)
                if r.size != nn:
                    raise InvalidArgument("operator returned %d values, expected %d" % (r.size, nn), -1)
                ctypes.memmove(y, np.ascontiguousarray(r).ctypes.data, 8 * nn)
                return 0
            except BaseException as e:
                store_exception(e)
                return 1

        cb = LINOP_FN(tramp)
        out = c_void_p()
        ctx._check(_need(_op_callback, "hb_linop_create_callback")(
            ctx_ptr, int(n), cb, None, ctypes.byref(out)))
        op = cls._adopt(ctx, out.value, ctx, keep=cb)
        holder["res"] = op._res
        op._cb = cb
        return op

    @classmethod
    def hessian(cls, model):
        """hb_linop_create_model_hessian: the model's full Hessian at the current θ."""
        model_ptr = require(model, Model, "model")
        out = c_void_p()
        model._check(_need(_op_model, "hb_linop_create_model_hessian")(model_ptr, ctypes.byref(out)))
        return cls._adopt(model.context, out.value, model)

    @classmethod
    def block(cls, model, block):
        """hb_linop_create_model_block: block `block`'s principal sub-Hessian."""
        model_ptr = require(model, Model, "model")
        out = c_void_p()
        model._check(_need(_op_block, "hb_linop_create_model_block")(
            model_ptr, model.params.index(block), ctypes.byref(out)))
        return cls._adopt(model.context, out.value, model)

    @property
    def size(self):
        return int(_op_size(self._ptr))

    def apply(self, X, out=None):
        """hb_linop_apply: A·X for X of shape (n,) or (k, n), float64."""
        k = _vectors(X, self.size, "X")
        if out is None:
            out = np.empty_like(X)
        else:
            check_array(out, "out", (np.float64,), writeable=True)
            if out.size != X.size:
                raise InvalidArgument("out has %d elements, X %d" % (out.size, X.size), -1)
        self._ctx._check(_op_apply(self._ptr, k, _pd(X), _pd(out)))
        return out

    def __matmul__(self, X):
        return self.apply(np.ascontiguousarray(X, dtype=np.float64))


Probe_ = namedtuple("ProbeQuadrature", "nodes weights steps breakdown")
TopK = namedtuple("TopK", "values vectors residuals converged")


class Spectrum(Handle):
    """hb_spectrum: per-probe Gauss quadratures (Ritz nodes and weights) of an operator's
    spectral measure. From SLQ.run, or Spectrum(ctx, n) + add_probe(nodes, weights)."""

    def __init__(self, ctx, n):
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_need(_sp_create, "hb_spectrum_create")(ctx_ptr, int(n), ctypes.byref(out)))
        self._setup(ctx, out.value)

    @classmethod
    def _adopt(cls, ctx, ptr):
        sp = object.__new__(cls)
        sp._setup(ctx, ptr)
        return sp

    def _setup(self, ctx, ptr):
        self._ctx = ctx
        self._init_handle(ptr, _sp_free, ctx)

    def _check(self, st):
        return self._ctx._check(st)

    def add_probe(self, nodes, weights):
        """hb_spectrum_add_probe (weights >= 0, normalised to sum 1 by the library)."""
        nodes = np.ascontiguousarray(nodes, dtype=np.float64)
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if nodes.shape != weights.shape or nodes.ndim != 1:
            raise InvalidArgument("nodes and weights must be 1-d of equal length", -1)
        self._check(_sp_add(self._ptr, _pd(nodes), _pd(weights), nodes.size))

    def restore_probe(self, nodes, weights, breakdown=False):
        """hb_spectrum_restore_probe: append a probe exactly as given (nodes ascending,
        weights summing to 1 within 1e-9; no renormalisation): a bit-exact rebuild."""
        nodes = np.ascontiguousarray(nodes, dtype=np.float64)
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if nodes.shape != weights.shape or nodes.ndim != 1:
            raise InvalidArgument("nodes and weights must be 1-d of equal length", -1)
        self._check(_need(_sp_restore, "hb_spectrum_restore_probe")(
            self._ptr, _pd(nodes), _pd(weights), nodes.size, 1 if breakdown else 0))

    def set_unit_roundoff(self, u):
        """hb_spectrum_set_unit_roundoff: the u the numerically-zero test uses (0 < u < 1)."""
        self._check(_need(_sp_set_uround, "hb_spectrum_set_unit_roundoff")(self._ptr, float(u)))

    @property
    def dim(self):
        return int(_sp_dim(self._ptr))

    @property
    def num_probes(self):
        return int(_sp_num_probes(self._ptr))

    def __len__(self):
        return self.num_probes

    def probe(self, p):
        """hb_spectrum_probe: (nodes, weights, steps, breakdown); nodes and weights are
        read-only zero-copy views (they keep the spectrum's memory alive)."""
        n, w, cnt, bd = PD(), PD(), c_size_t(), c_int()
        self._check(_sp_probe(self._ptr, int(p), ctypes.byref(n), ctypes.byref(w),
                              ctypes.byref(cnt), ctypes.byref(bd)))
        k = cnt.value
        addr = lambda ptr: ctypes.cast(ptr, c_void_p).value  # noqa: E731
        return Probe_(view(self._res, addr(n), (k,), np.float64, True),
                      view(self._res, addr(w), (k,), np.float64, True), k, bool(bd.value))

    @property
    def probes(self):
        return [self.probe(p) for p in range(self.num_probes)]

    def nodes_weights(self):
        """All nodes and weights pooled: weights sum to 1 (each probe weighs 1/n_v)."""
        ps = self.probes
        nodes = np.concatenate([q.nodes for q in ps])
        weights = np.concatenate([q.weights / len(ps) for q in ps])
        return nodes, weights

    def density(self, grid, sigma=0.0, out=None):
        """hb_spectrum_density on `grid` (sigma <= 0: the default, default_sigma)."""
        grid = np.ascontiguousarray(grid, dtype=np.float64)
        if out is None:
            out = np.empty_like(grid)
        else:
            check_array(out, "out", (np.float64,), writeable=True)
            if out.shape != grid.shape:
                raise InvalidArgument("out must have the grid's shape", -1)
        self._check(_sp_density(self._ptr, _pd(grid), grid.size, float(sigma), _pd(out)))
        return out

    @property
    def default_sigma(self):
        return float(_sp_default_sigma(self._ptr))

    @property
    def unit_roundoff(self):
        """hb_spectrum_unit_roundoff: u of the products behind the nodes (2**-53 for f64,
        2**-24 for f32 models), used by the numerically-zero test of the JS functions."""
        return float(_need(_sp_unit_roundoff, "hb_spectrum_unit_roundoff")(self._ptr))

    def moment(self, order):
        """hb_spectrum_moment: ((1/n)·tr(A^order) estimate, its standard error)."""
        v, e = c_double(), c_double()
        self._check(_sp_moment(self._ptr, int(order), ctypes.byref(v), ctypes.byref(e)))
        return v.value, e.value

    def trace(self):
        """hb_spectrum_trace: (n·moment(1), standard error)."""
        v, e = c_double(), c_double()
        self._check(_sp_trace(self._ptr, ctypes.byref(v), ctypes.byref(e)))
        return v.value, e.value

    def extremes(self):
        """hb_spectrum_extremes: (λmin, λmax) estimates (inner bounds)."""
        lo, hi = c_double(), c_double()
        self._check(_sp_extremes(self._ptr, ctypes.byref(lo), ctypes.byref(hi)))
        return lo.value, hi.value

    def save_json(self, path):
        self._check(_sp_save_json(self._ptr, _fs(path)))

    def save_csv(self, path):
        self._check(_sp_save_csv(self._ptr, _fs(path)))

    def _text(self, fn):
        need = c_size_t()
        st = fn(self._ptr, None, 0, ctypes.byref(need))
        if st not in (0, -11):
            self._check(st)
        buf = ctypes.create_string_buffer(need.value + 1)
        self._check(fn(self._ptr, buf, need.value + 1, ctypes.byref(need)))
        return buf.value.decode()

    def to_json(self):
        """hb_spectrum_to_json as a str."""
        return self._text(_sp_to_json)

    def to_csv(self):
        """hb_spectrum_to_csv as a str."""
        return self._text(_sp_to_csv)

    def to_dict(self):
        return json.loads(self.to_json())

    def js_distance(self, other, normalize=False, grid_points=1024, sigma_rel=0.01, grid="linear",
                    symlog_floor_rel=1e-6, zero_rel_tol=None, keep_zero=False):
        """hb_spectrum_js_distance: √JS (base 2) in [0, 1] between two spectra. grid:
        'linear' or 'symlog' (u = asinh(λ/c), c = symlog_floor_rel·max|λ|). NaN when
        normalising and one of them is numerically zero (see zero_flags), unless keep_zero."""
        d = c_double()
        o = _js_options(normalize, grid_points, sigma_rel, grid, symlog_floor_rel, zero_rel_tol,
                        keep_zero)
        other_ptr = require(other, Spectrum, "other")
        self._check(_sp_js(self._ptr, other_ptr, ctypes.byref(o), ctypes.byref(d)))
        return d.value

    def __repr__(self):
        if self.closed:
            return "<hessblock.Spectrum closed>"
        return "<hessblock.Spectrum n=%d probes=%d>" % (self.dim, self.num_probes)


def _fs(path):
    import os
    return os.fsencode(path)


def zero_flags(spectra, zero_rel_tol=None):
    """hb_spectra_zero_flags: (bool array, tolerance used). A spectrum is numerically zero
    when its max |θ| is ≤ tol × the largest max |θ| of the spectra given; tol =
    zero_rel_tol, or (None) the largest unit_roundoff among them (docs/spectral.md)."""
    spectra = list(spectra)
    if not spectra:
        raise InvalidArgument("zero_flags needs at least one spectrum", -1)
    arr = (c_void_p * len(spectra))(*[require(s, Spectrum, "spectra[%d]" % i)
                                      for i, s in enumerate(spectra)])
    flags = (c_int * len(spectra))()
    tol = c_double()
    o = _js_options(zero_rel_tol=zero_rel_tol)
    spectra[0]._check(_need(_zero_flags, "hb_spectra_zero_flags")(
        arr, len(spectra), ctypes.byref(o), flags, None, ctypes.byref(tol)))
    return np.array([bool(f) for f in flags]), tol.value


def js_matrix(spectra, normalize=False, grid_points=1024, sigma_rel=0.01, grid="linear",
              symlog_floor_rel=1e-6, zero_rel_tol=None, keep_zero=False):
    """hb_spectra_js_matrix: (k×k JS distance matrix on one shared grid, mean off-diagonal).
    When normalising, numerically-zero spectra (zero_flags) are left out: NaN rows and
    columns, mean over the others; keep_zero=True compares them anyway."""
    spectra = list(spectra)
    if not spectra:
        raise InvalidArgument("js_matrix needs at least one spectrum", -1)
    arr = (c_void_p * len(spectra))(*[require(s, Spectrum, "spectra[%d]" % i)
                                      for i, s in enumerate(spectra)])
    M = np.zeros((len(spectra), len(spectra)))
    mean = c_double()
    o = _js_options(normalize, grid_points, sigma_rel, grid, symlog_floor_rel, zero_rel_tol,
                    keep_zero)
    spectra[0]._check(_need(_js_matrix, "hb_spectra_js_matrix")(
        arr, len(spectra), ctypes.byref(o), _pd(M), ctypes.byref(mean)))
    return M, mean.value


def js_matrix_stderr(spectra, replicates=200, stream=0, normalize=False, grid_points=1024,
                     sigma_rel=0.01, grid="linear", symlog_floor_rel=1e-6):
    """hb_spectra_js_matrix_stderr: bootstrap standard errors over probes of js_matrix with
    the same options: (k×k standard errors, standard error of the mean off-diagonal JS⁰).

    Deterministic for (context seed, stream). Measures probe noise only, not the bias of a
    too-short Lanczos run (docs/spectral.md). A spectrum with one probe raises StateError."""
    spectra = list(spectra)
    if not spectra:
        raise InvalidArgument("js_matrix_stderr needs at least one spectrum", -1)
    arr = (c_void_p * len(spectra))(*[require(s, Spectrum, "spectra[%d]" % i)
                                      for i, s in enumerate(spectra)])
    S = np.zeros((len(spectra), len(spectra)))
    se = c_double()
    o = _js_options(normalize, grid_points, sigma_rel, grid, symlog_floor_rel)
    spectra[0]._check(_need(_js_matrix_stderr, "hb_spectra_js_matrix_stderr")(
        arr, len(spectra), ctypes.byref(o), int(replicates), int(stream), _pd(S),
        ctypes.byref(se)))
    return S, se.value


def _block_entries(model, blocks, streams):
    """The (n, blocks, streams) C arguments of the per-block calls: blocks as names or
    indices ("full" or FULL_HESSIAN for the full Hessian; None: every block), streams None
    or one per entry."""
    if blocks is None:
        idx = list(range(model.params.num_blocks))
    else:
        idx = [FULL_HESSIAN if (isinstance(b, str) and b == "full") else
               model.params.index(b) if isinstance(b, str) else int(b) for b in blocks]
    n = len(idx)
    barr = (c_size_t * max(n, 1))(*idx)
    sarr = None
    if streams is not None:
        if len(streams) != n:
            raise InvalidArgument("streams has %d entries, blocks %d" % (len(streams), n), -1)
        sarr = (ctypes.c_uint64 * max(n, 1))(*[int(x) for x in streams])
    return n, barr, sarr


class SLQ(Handle):
    """hb_slq: options of the spectral estimators (reusable, holds no results).

    SLQ(ctx, probes=10, steps=80, reorth='full', probe_dist='rademacher', ...)"""

    def __init__(self, ctx, **options):
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_need(_slq_create, "hb_slq_create")(ctx_ptr, ctypes.byref(out)))
        self._ctx = ctx
        self._init_handle(out.value, _slq_free, ctx)
        for k, v in options.items():
            self[k] = v

    def _check(self, st):
        return self._ctx._check(st)

    def __setitem__(self, key, value):
        key = to_enum(SLQOption, key, "slq option")
        if key in _REAL:
            return self._check(_slq_set_f64(self._ptr, key, float(value)))
        if key == SLQOption.BASIS_DTYPE:
            value = to_dtype(value)
        elif key in _ENUMS:
            value = to_enum(_ENUMS[key], value, key.name.lower())
        self._check(_slq_set_i64(self._ptr, key, int(value)))

    def __getitem__(self, key):
        key = to_enum(SLQOption, key, "slq option")
        if key in _REAL:
            v = c_double()
            self._check(_slq_get_f64(self._ptr, key, ctypes.byref(v)))
            return v.value
        v = c_int64()
        self._check(_slq_get_i64(self._ptr, key, ctypes.byref(v)))
        if key == SLQOption.BASIS_DTYPE:
            return DType(v.value)
        return _ENUMS[key](v.value) if key in _ENUMS else v.value

    def set_i64(self, key, value):
        self._check(_slq_set_i64(self._ptr, to_enum(SLQOption, key, "slq option"), int(value)))

    def set_f64(self, key, value):
        self._check(_slq_set_f64(self._ptr, to_enum(SLQOption, key, "slq option"), float(value)))

    def get_i64(self, key):
        v = c_int64()
        self._check(_slq_get_i64(self._ptr, to_enum(SLQOption, key, "slq option"), ctypes.byref(v)))
        return v.value

    def get_f64(self, key):
        v = c_double()
        self._check(_slq_get_f64(self._ptr, to_enum(SLQOption, key, "slq option"), ctypes.byref(v)))
        return v.value

    @property
    def stats(self):
        """Statistics of the last run/trace/topk: operator calls and vectors, seconds
        inside the operator and in total."""
        return {k.name[5:].lower(): self[k] for k in SLQOption if k.name.startswith("STAT_")}

    def run(self, target, block=None):
        """SLQ on a LinOp (hb_slq_run), a Model's Hessian (hb_slq_run_model) or one of
        its blocks (hb_slq_run_model_block). Returns a Spectrum."""
        out = c_void_p()
        if isinstance(target, Model):
            if block is None:
                self._check(_slq_run_model(self._ptr, target._ptr, ctypes.byref(out)))
            else:
                self._check(_slq_run_block(self._ptr, target._ptr, target.params.index(block),
                                           ctypes.byref(out)))
        elif isinstance(target, LinOp):
            if block is not None:
                raise InvalidArgument("block applies to models only", -1)
            self._check(_slq_run(self._ptr, target._ptr, ctypes.byref(out)))
        else:
            raise type_error("target", (Model, LinOp), target)
        return Spectrum._adopt(self._ctx, out.value)

    def run_blocks(self, model, blocks=None, streams=None, on_done=None):
        """hb_slq_run_model_blocks: the spectra of several blocks (names or indices;
        "full" or FULL_HESSIAN for the full Hessian; None: every block) in one call whose
        probe groups run concurrently on the context's threads; entry i's probes from
        streams[i] (None: each takes the stream a run of its own would). on_done(i) is
        called once per finished entry, one call at a time, possibly from a library
        thread; returning True (or raising) stops the run. Returns a list of Spectrum."""
        model_ptr = require(model, Model, "model")
        n, barr, sarr = _block_entries(model, blocks, streams)
        out = (c_void_p * max(n, 1))()

        def call(user, i, sp):
            try:
                return 1 if on_done is not None and on_done(int(i)) else 0
            except Exception:  # noqa: BLE001 - an exception stops the run, never crosses C
                return 1

        cb = _BLOCK_FN(call) if on_done is not None else ctypes.cast(None, _BLOCK_FN)
        st = _need(_slq_run_blocks, "hb_slq_run_model_blocks")(
            self._ptr, model_ptr, barr, sarr, n, out, cb, None)
        spectra = [Spectrum._adopt(self._ctx, out[i]) if out[i] else None for i in range(n)]
        if st != 0:
            for sp in spectra:
                if sp is not None:
                    sp.close()
        self._check(st)
        return spectra

    def trace(self, op):
        """hb_slq_trace: Hutchinson (trace, standard error) of a LinOp (or a Model's H)."""
        if isinstance(op, Model):
            with LinOp.hessian(op) as lop:
                return self.trace(lop)
        op_ptr = require(op, (LinOp, Model), "op")
        v, e = c_double(), c_double()
        self._check(_slq_trace(self._ptr, op_ptr, ctypes.byref(v), ctypes.byref(e)))
        return v.value, e.value

    def trace_model_blocks(self, model):
        """hb_slq_trace_model_blocks: (traces, stderrs) arrays, one entry per block."""
        model_ptr = require(model, Model, "model")
        B = model.params.num_blocks
        t, e = np.zeros(B), np.zeros(B)
        self._check(_slq_trace_blocks(self._ptr, model_ptr, _pd(t), _pd(e)))
        return t, e

    def topk(self, op, k, which="largest", vectors=False):
        """hb_slq_topk: TopK(values, vectors (k×n or None), residuals, converged).

        The k most extreme eigenvalues counting multiplicity (restarted Lanczos with
        deflation). converged = c: values[:c] are certified (residual <= TOPK_TOL·‖A‖,
        orthonormal vectors, and a later run on the complement found nothing more extreme);
        c < k only when a run hit TOPK_MAX_STEPS. See docs/spectral.md, "Top-k"."""
        if isinstance(op, Model):
            with LinOp.hessian(op) as lop:
                return self.topk(lop, k, which, vectors)
        op_ptr = require(op, (LinOp, Model), "op")
        k = int(k)
        if k < 1:
            raise InvalidArgument("k must be >= 1", -1)
        n = op.size
        vals, res = np.zeros(k), np.zeros(k)
        vecs = np.zeros((k, n)) if vectors else None
        conv = c_size_t()
        self._check(_slq_topk(self._ptr, op_ptr, k, to_enum(EigWhich, which, "which"),
                              _pd(vals), _pd(vecs) if vectors else None, _pd(res),
                              ctypes.byref(conv)))
        return TopK(vals, vecs, res, conv.value)

    def topk_blocks(self, model, k, which="largest", blocks=None, streams=None):
        """hb_slq_topk_model_blocks: top-k of several blocks (names or indices; "full" or
        FULL_HESSIAN for the full Hessian; None: every block) in one call (across ranks:
        divided and gathered, the same on every rank). Returns (values n×k, residuals n×k,
        converged n): entry i is topk on that block with HB_SLQ_STREAM = streams[i]
        (None: each takes the stream a run of its own would); a block smaller than k has NaN
        past its size."""
        model_ptr = require(model, Model, "model")
        k = int(k)
        if k < 1:
            raise InvalidArgument("k must be >= 1", -1)
        n, barr, sarr = _block_entries(model, blocks, streams)
        vals, res = np.zeros((max(n, 1), k)), np.zeros((max(n, 1), k))
        conv = (c_size_t * max(n, 1))()
        self._check(_need(_slq_topk_blocks, "hb_slq_topk_model_blocks")(
            self._ptr, model_ptr, barr, sarr, n, k, to_enum(EigWhich, which, "which"),
            _pd(vals), _pd(res), conv))
        return vals[:n], res[:n], np.array([conv[i] for i in range(n)], dtype=np.int64)

    def block_heterogeneity(self, model, normalize=False, grid_points=1024, sigma_rel=0.01,
                            grid="linear", symlog_floor_rel=1e-6, zero_rel_tol=None,
                            keep_zero=False):
        """hb_slq_block_heterogeneity: (dict name -> Spectrum, B×B JS matrix, mean
        off-diagonal JS distance). Numerically-zero blocks are left out when normalising
        (NaN rows/columns; zero_flags(spectra.values()) says which)."""
        model_ptr = require(model, Model, "model")
        names = model.params.names()
        B = len(names)
        arr = (c_void_p * B)()
        M = np.zeros((B, B))
        mean = c_double()
        o = _js_options(normalize, grid_points, sigma_rel, grid, symlog_floor_rel, zero_rel_tol,
                        keep_zero)
        self._check(_slq_hetero(self._ptr, model_ptr, ctypes.byref(o), arr, _pd(M),
                                ctypes.byref(mean)))
        spectra = {nm: Spectrum._adopt(self._ctx, arr[i]) for i, nm in enumerate(names)}
        return spectra, M, mean.value
