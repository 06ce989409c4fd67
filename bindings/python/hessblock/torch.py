"""hessblock.torch: analyse any torch.nn.Module with libhessblock (docs/python.md "PyTorch").

    import hessblock as hb
    model = hb.torch.Model(net, torch.nn.functional.cross_entropy, loader)
    r = hb.torch.heterogeneity(net, torch.nn.functional.cross_entropy, loader)
    print(r["js_mean"])                      # JS⁰ when net is at its initialisation

`Model` is a hessblock.Model (a callback model, hb_model_create_callbacks_ex, through the
same trampolines as Model.from_callbacks) whose blocks mirror the module's
named_parameters() and whose loss, gradient and Hessian-vector products -- one direction,
k directions in one batched call (the library's hvp_multi: SLQ's probes), and one block's
principal sub-block (the library's block_hvp: per-block spectra and traces) -- are computed
by torch on the module's own device and dtype. The library's parameters and the vectors
the callbacks exchange have the module's dtype too (f32 modules: f32 params). The
library's SLQ, top-k, traces, JS matrices and optimizers run on it unchanged.

This module is imported only on use (`hb.torch` is resolved lazily by hessblock/__init__),
so `import hessblock` never imports torch.

Copies, all documented (docs/python.md):
  * θ: the library's flat vector (in the module's dtype) is the analysis' copy of the
    parameters. It is filled from the module once (at construction, and on `pull()`), and
    written into the module (one host→device transfer of n scalars) before an evaluation
    only when it changed since the last write (`push()` forces it).
  * per gradient / HVP: v goes host→device (n scalars of the module's dtype) and the result
    device→host (n scalars), in that dtype. On CUDA that is 2·n·sizeof(dtype) bytes over
    PCIe per HVP (2·n·4 B in f32), k times that for a batched call of k directions, and
    2·numel(b)·sizeof(dtype) per direction of a block product, plus the θ copy when it
    changed; nothing else moves per call (the batches are moved to the device once).
"""
import contextlib
import fnmatch
import functools
import inspect
import warnings

import numpy as np
import torch

from .errors import InvalidArgument, ShapeError
from .model import Model as _Model
from .params import BlockKind, Params

__all__ = ["Model", "heterogeneity", "block_kinds", "batched_hvp_method"]

# ---- block kinds from the module ---------------------------------------------------------
# Name fragments, matched against the parameter's owner path (last components first), for
# linear weights. Why by name: torch has no "this Linear is a query projection" type; these
# are the names of the common implementations (nanoGPT, HF GPT-2/LLaMA/BERT, torch.nn).
_LINEAR_NAMES = [
    (("q_proj", "wq", "query", "to_q", "q_lin"), "attn_q"),
    (("k_proj", "wk", "key", "to_k", "k_lin"), "attn_k"),
    (("v_proj", "wv", "value", "to_v", "v_lin"), "attn_v"),
    (("o_proj", "wo", "out_proj", "to_out", "out_lin"), "attn_o"),
    (("lm_head", "head", "classifier", "fc_out", "output"), "head"),
    (("c_fc", "fc1", "up_proj", "gate_proj", "w1", "w3", "intermediate", "lin1", "linear1"),
     "mlp_in"),
    (("fc2", "down_proj", "w2", "lin2", "linear2"), "mlp_out"),
]


def _owner(module, pname):
    path, _, leaf = pname.rpartition(".")
    sub = module
    for part in path.split(".") if path else ():
        sub = getattr(sub, part)
    return path, leaf, sub


_NORMS = (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.modules.batchnorm._BatchNorm,
          torch.nn.modules.instancenorm._InstanceNorm)


def _auto_kind(path, leaf, owner, is_last_linear):
    """The library's kinds as its own models use them (lib/models/gpt.c): a norm's weight
    AND bias are 'norm'; other biases 'bias'; the last nn.Linear of the module is 'head'
    unless its name says otherwise."""
    nn = torch.nn
    last = path.rpartition(".")[2]
    if isinstance(owner, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    lin_or_conv = isinstance(owner, (nn.Linear, nn.modules.conv._ConvNd))
    if isinstance(owner, _NORMS) or (not lin_or_conv and (
            "norm" in type(owner).__name__.lower() or last.startswith(("ln", "norm")))):
        return "norm"
    if leaf.endswith("bias"):
        return "bias"
    if isinstance(owner, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(owner, nn.Linear):
        if last == "c_proj":        # GPT-2: attn.c_proj is the output projection, mlp.c_proj
            return "attn_o" if ".attn" in "." + path else "mlp_out"
        for names, kind in _LINEAR_NAMES:
            if last in names:
                return kind
        return "head" if is_last_linear else "linear"
    return "other"


def block_kinds(module, blocks=None):
    """[(block name, kind name, param name, first row, rows)]: how Model maps a module's
    trainable parameters to library blocks. Each parameter is one block named like the
    parameter, except nn.MultiheadAttention's packed in_proj_weight/in_proj_bias, split
    into three row blocks (…in_proj_weight.q/.k/.v: attn_q/attn_k/attn_v) -- the same
    memory, so the flat layout does not change. Kinds are recognised from the owner
    module's type and name (docs/python.md lists the rules); `blocks` overrides them: a
    dict {parameter name or fnmatch pattern: kind or (block name, kind)} or a callable
    (parameter name, owner module) -> kind, (block name, kind) or None (automatic)."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    linears = [n for n, p in named if n.endswith("weight") and isinstance(
        _owner(module, n)[2], torch.nn.Linear)]
    out = []
    for name, p in named:
        path, leaf, owner = _owner(module, name)
        override = None
        if callable(blocks):
            override = blocks(name, owner)
        elif blocks:
            if name in blocks:
                override = blocks[name]
            else:
                for pat, val in blocks.items():
                    if fnmatch.fnmatchcase(name, pat):
                        override = val
                        break
        if override is not None:
            bname, kind = override if isinstance(override, tuple) else (name, override)
            kind = BlockKind[kind.upper()] if isinstance(kind, str) else BlockKind(kind)
            out.append((bname, kind.name.lower(), name, 0, None))
            continue
        if isinstance(owner, torch.nn.MultiheadAttention) and leaf.startswith("in_proj_") and (
                p.shape[0] % 3 == 0):
            rows = p.shape[0] // 3
            base = "bias" if leaf == "in_proj_bias" else None
            for i, s in enumerate("qkv"):
                out.append(("%s.%s" % (name, s), base or "attn_" + s, name, i * rows, rows))
            continue
        out.append((name, _auto_kind(path, leaf, owner, bool(linears) and name == linears[-1]),
                    name, 0, None))
    return out


# ---- batched HVPs: feature detection -----------------------------------------------------
def _math_attention():
    """A context in which F.scaled_dot_product_attention uses its plain (math) kernel.
    The fused CUDA kernels (flash, memory-efficient) have no double backward
    ("derivative for aten::_scaled_dot_product_efficient_attention_backward is not
    implemented"), so every forward whose graph an HVP differentiates twice runs in it.
    The math kernel is the same function, so only the speed of such forwards changes."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel   # torch >= 2.3
        return sdpa_kernel([SDPBackend.MATH])
    except ImportError:
        pass
    old = getattr(getattr(torch.backends, "cuda", None), "sdp_kernel", None)  # torch 2.0-2.2
    if old is not None:   # its keywords vary by version (1.13 has no mem_efficient one)
        names = inspect.signature(old).parameters
        return old(**{k: k == "enable_math" for k in names if k.startswith("enable_")})
    return contextlib.nullcontext()                                  # torch 1.13: no SDPA


def _twice_differentiable(method):
    """Decorator: run `method` (an HVP: a double backward) under _math_attention()."""
    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with _math_attention():
            return method(*args, **kwargs)
    return wrapped


def _func_api():
    """(vmap, vjp, grad, functional_call) from torch.func (2.x) or functorch (1.13), or None."""
    f = getattr(torch, "func", None)
    if f is not None and hasattr(f, "vmap") and hasattr(f, "functional_call"):
        return f.vmap, f.vjp, f.grad, f.functional_call
    try:
        import functorch
        from torch.nn.utils.stateless import functional_call
        return functorch.vmap, functorch.vjp, functorch.grad, functional_call
    except ImportError:
        return None


def _has_grads_batched():
    try:
        return "is_grads_batched" in inspect.signature(torch.autograd.grad).parameters
    except (TypeError, ValueError):
        return False


def batched_hvp_method():
    """The batched-HVP path `Model.hvp_batched` uses by default: 'func' where torch.func
    exists (torch 2.x: torch.func.vmap of the HVP over the directions), else
    'grads_batched' (torch 1.13: autograd.grad(..., is_grads_batched=True)), else 'loop'."""
    f = getattr(torch, "func", None)
    if f is not None and hasattr(f, "vmap") and hasattr(f, "functional_call"):
        return "func"
    if _has_grads_batched():
        return "grads_batched"
    return "loop"


def _np_dtype(dtype):
    return {torch.float32: np.float32, torch.float64: np.float64}[dtype]


# ---- the model ---------------------------------------------------------------------------
class _Bridge:
    """Everything torch-side: parameters, batches, θ synchronisation, the products."""

    def __init__(self, module, loss_fn, batches, blocks, weights, compute_loss):
        self.module = module
        self.loss_fn = loss_fn
        self.compute_loss = compute_loss
        self.layout = block_kinds(module, blocks)
        named = dict(module.named_parameters())
        order = []
        for _, _, pname, _, _ in self.layout:
            if pname not in order:
                order.append(pname)
        self.names = order
        self.tensors = [named[n] for n in order]
        if not self.tensors:
            raise InvalidArgument("the module has no trainable parameters", -1)
        dts = {p.dtype for p in self.tensors}
        devs = {p.device for p in self.tensors}
        if len(dts) != 1 or next(iter(dts)) not in (torch.float32, torch.float64):
            raise InvalidArgument("all trainable parameters must be float32 or float64 of one "
                                  "dtype, got %s" % sorted(str(d) for d in dts), -1)
        if len(devs) != 1:
            raise InvalidArgument("all trainable parameters must be on one device, got %s"
                                  % sorted(str(d) for d in devs), -1)
        self.dtype, self.device = dts.pop(), devs.pop()
        self.sizes = [p.numel() for p in self.tensors]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n = int(self.offsets[-1])
        if weights not in ("samples", "batches"):
            raise InvalidArgument("weights must be 'samples' or 'batches'", -1)
        # Batches are moved to the module's device ONCE (no per-HVP data transfer).
        self.batches = [self._to_device(b) for b in batches]
        if not self.batches:
            raise InvalidArgument("no batches: give an iterable of at least one batch", -1)
        counts = [self._count(b) for b in self.batches] if weights == "samples" else [1] * len(self.batches)
        total = float(sum(counts))
        self.weights = [c / total for c in counts]
        self.theta_seen = None     # the θ last written into the module (a host copy)
        self.calls = {"loss_grad": 0, "hvp": 0, "hvp_multi": 0, "block_hvp": 0,
                      "theta_copies": 0}
        self.hvp_method = None     # the batched-HVP method of the library's hvp_multi
        self.block_batched = _has_grads_batched()   # block_hvp's k directions in one call

    def _to_device(self, b):
        if torch.is_tensor(b):
            return b.to(self.device)
        if isinstance(b, (tuple, list)):
            return type(b)(self._to_device(x) for x in b)
        if isinstance(b, dict):
            return {k: self._to_device(v) for k, v in b.items()}
        return b

    @staticmethod
    def _count(b):
        # samples in a batch: the leading size of its last tensor (the targets by convention)
        ts = [b] if torch.is_tensor(b) else (list(b.values()) if isinstance(b, dict) else list(b))
        ts = [t for t in ts if torch.is_tensor(t) and t.dim() > 0]
        if not ts:
            raise InvalidArgument("cannot count the samples of a batch without tensors; "
                                  "use weights='batches'", -1)
        return int(ts[-1].shape[0])

    def batch_loss(self, b):
        if self.compute_loss is not None:
            return self.compute_loss(self.module, b)
        if isinstance(b, (tuple, list)) and len(b) >= 2:
            return self.loss_fn(self.module(*b[:-1]), b[-1])
        raise InvalidArgument("a batch must be (inputs..., targets); for anything else give "
                              "compute_loss(module, batch) -> loss", -1)

    # θ: library (f64, host) -> module, only when it changed
    def push(self, theta, force=False):
        if not force and self.theta_seen is not None and np.array_equal(theta, self.theta_seen):
            return
        flat = torch.from_numpy(np.array(theta, copy=True)).to(self.device, self.dtype)
        with torch.no_grad():
            for p, o, s in zip(self.tensors, self.offsets, self.sizes):
                p.copy_(flat[o:o + s].view_as(p))
        self.theta_seen = np.array(theta, copy=True)
        self.calls["theta_copies"] += 1

    def pull(self):
        """module -> numpy θ in the module's dtype."""
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in self.tensors])
        return flat.to("cpu").numpy()

    def split(self, flat):
        return [flat[o:o + s].view_as(p) for p, o, s in zip(self.tensors, self.offsets, self.sizes)]

    def to_torch(self, x):
        # a copy: the library's views are read-only, torch tensors never are
        return torch.from_numpy(np.array(x, dtype=_np_dtype(self.dtype))).to(self.device)

    def loss_grad_t(self):
        loss, g = 0.0, torch.zeros(self.n, dtype=self.dtype, device=self.device)
        for w, b in zip(self.weights, self.batches):
            li = self.batch_loss(b)
            gs = torch.autograd.grad(li, self.tensors)
            g += w * torch.cat([x.reshape(-1) for x in gs])
            loss += w * float(li.detach())
        return loss, g

    @_twice_differentiable
    def hvp_t(self, v):
        """H·v for a flat torch vector: double backward per batch, weighted sum."""
        vs = self.split(v)
        out = torch.zeros(self.n, dtype=self.dtype, device=self.device)
        for w, b in zip(self.weights, self.batches):
            gs = torch.autograd.grad(self.batch_loss(b), self.tensors, create_graph=True)
            dot = sum((g * x).sum() for g, x in zip(gs, vs))
            hv = torch.autograd.grad(dot, self.tensors)
            out += w * torch.cat([x.reshape(-1) for x in hv])
        return out

    @_twice_differentiable
    def hvp_batched_t(self, V, method):
        k = V.shape[0]
        out = torch.zeros((k, self.n), dtype=self.dtype, device=self.device)
        if method == "loop":
            for j in range(k):
                out[j] = self.hvp_t(V[j])
            return out
        if method == "grads_batched":
            for w, b in zip(self.weights, self.batches):
                gs = torch.autograd.grad(self.batch_loss(b), self.tensors, create_graph=True)
                gflat = torch.cat([g.reshape(-1) for g in gs])
                hv = torch.autograd.grad(gflat, self.tensors, grad_outputs=V,
                                         is_grads_batched=True)
                out += w * torch.cat([x.reshape(k, -1) for x in hv], dim=1)
            return out
        if method == "func":
            api = _func_api()
            if api is None:
                raise InvalidArgument("method 'func' needs torch.func (2.x) or functorch", -1)
            vmap, vjp, grad, functional_call = api
            if self.compute_loss is not None:
                raise InvalidArgument("method 'func' supports (inputs..., targets) batches "
                                      "only (not compute_loss)", -1)
            names, bufs = self.names, dict(self.module.named_buffers())
            theta = tuple(p.detach() for p in self.tensors)
            for w, b in zip(self.weights, self.batches):
                def loss_of(*ps, b=b):
                    state = dict(zip(names, ps))
                    state.update(bufs)
                    return self.loss_fn(functional_call(self.module, state, tuple(b[:-1])), b[-1])
                # reverse-over-reverse (the same math as hvp_t): the vjp of ∇L at θ is
                # v ↦ H·v; vmap maps it over the k directions. (Forward-over-reverse, jvp
                # of grad, would be cheaper but 1.13 lacks forward AD of nll_loss_backward.)
                _, pullback = vjp(grad(loss_of, argnums=tuple(range(len(names)))), *theta)
                hv = vmap(pullback)(tuple(x.reshape((k,) + p.shape)
                                          for x, p in zip(V.split(self.sizes, dim=1), self.tensors)))
                out += w * torch.cat([x.reshape(k, -1) for x in hv], dim=1)
            return out
        raise InvalidArgument("method must be 'auto', 'func', 'grads_batched' or 'loop'", -1)

    # numpy-facing callbacks for the library (Model.from_callbacks' trampolines call them
    # with read-only views of θ and the directions, in the module's dtype)
    @staticmethod
    def to_host(t):
        return t.detach().to("cpu").numpy()

    def np_loss_grad(self, theta):
        self.calls["loss_grad"] += 1
        self.push(theta)
        loss, g = self.loss_grad_t()
        return loss, self.to_host(g)

    def np_hvp(self, theta, v):
        self.calls["hvp"] += 1
        self.push(theta)
        return self.to_host(self.hvp_t(self.to_torch(v)))

    def np_hvp_multi(self, theta, V):
        """The library's hvp_multi: k directions in one batched torch call."""
        self.calls["hvp_multi"] += 1
        self.push(theta)
        V = self.to_torch(V)
        if self.hvp_method != "loop":
            try:
                return self.to_host(self.hvp_batched_t(V, self.hvp_method))
            except (RuntimeError, NotImplementedError) as e:
                # an op of the module without a batching rule in this torch: the loop is
                # exact too, only slower; said once, then used for the model's lifetime
                warnings.warn("hessblock.torch: batched HVPs (%s) failed (%s); using a loop "
                              "over the directions" % (self.hvp_method, e), RuntimeWarning)
                self.hvp_method = "loop"
        return self.to_host(self.hvp_batched_t(V, "loop"))

    def np_block_hvp(self, theta, bi, V_b):
        """The library's block_hvp: H_bb·V_b for k directions of block bi."""
        self.calls["block_hvp"] += 1
        self.push(theta)
        return self.to_host(self.block_hvp_multi_t(bi, self.to_torch(V_b)))

    def block_hvp_t(self, bi, v_b):
        """H_bb·v_b as grad of (g_b·v_b) with respect to block b's parameter only: autograd
        differentiates just the paths into that parameter (cheaper than a full HVP)."""
        return self.block_hvp_multi_t(bi, v_b.reshape(1, -1), batched=False)[0]

    @_twice_differentiable
    def block_hvp_multi_t(self, bi, V_b, batched=None):
        """H_bb·V_b for the k rows of V_b: one backward of g_b with the k directions as
        batched grad_outputs (is_grads_batched) where torch has it, else one per row."""
        _, _, pname, row0, rows = self.layout[bi]
        p = self.tensors[self.names.index(pname)]
        sl = slice(None) if rows is None else slice(row0, row0 + rows)
        k, shape = V_b.shape[0], p[sl].shape
        if batched is None:
            batched = k > 1 and self.block_batched
        out = torch.zeros((k, p[sl].numel()), dtype=self.dtype, device=self.device)
        for w, b in zip(self.weights, self.batches):
            if batched:
                try:
                    (g,) = torch.autograd.grad(self.batch_loss(b), (p,), create_graph=True)
                    (hv,) = torch.autograd.grad(g[sl], (p,), grad_outputs=V_b.reshape((k,) + shape),
                                                is_grads_batched=True)
                    out += w * hv[:, sl].reshape(k, -1)
                    continue
                except (RuntimeError, NotImplementedError) as e:
                    # as np_hvp_multi: said once, then the (exact) loop for this model
                    warnings.warn("hessblock.torch: batched block HVPs failed (%s); using a "
                                  "loop over the directions" % e, RuntimeWarning)
                    self.block_batched = batched = False
            (g,) = torch.autograd.grad(self.batch_loss(b), (p,), create_graph=True)
            for j in range(k):
                (hv,) = torch.autograd.grad((g[sl] * V_b[j].reshape(shape)).sum(), (p,),
                                            retain_graph=j + 1 < k)
                out[j] += w * hv[sl].reshape(-1)
        return out


def _library_hvp_method(method, compute_loss):
    if method not in ("auto", "func", "grads_batched", "loop"):
        raise InvalidArgument("hvp_method must be 'auto', 'func', 'grads_batched' or 'loop', "
                              "got %r" % (method,), -1)
    if method == "func" and compute_loss is not None:
        raise InvalidArgument("hvp_method 'func' supports (inputs..., targets) batches only "
                              "(not compute_loss)", -1)
    if method == "func" and _func_api() is None:
        raise InvalidArgument("hvp_method 'func' needs torch.func (2.x) or functorch", -1)
    if method == "grads_batched" and not _has_grads_batched():
        raise InvalidArgument("hvp_method 'grads_batched' needs autograd.grad("
                              "is_grads_batched=)", -1)
    if method != "auto":
        return method
    best = batched_hvp_method()
    if best == "func" and compute_loss is not None:
        best = "grads_batched" if _has_grads_batched() else "loop"
    return best


def _count_rows(shape, rows):
    return tuple(shape) if rows is None else (rows,) + tuple(shape[1:])


class Model(_Model):
    """A hessblock.Model over a torch.nn.Module.

    Model(module, loss_fn, batches, blocks=None, ctx=None, weights='samples',
          compute_loss=None, seed=0, hvp_method='auto')

    module:  any torch.nn.Module; its trainable parameters (requires_grad) become blocks
             (block_kinds() tells the mapping; `blocks` overrides it). All of one dtype
             (float32 or float64) on one device; products run there, in that dtype.
    loss_fn: loss_fn(module(*inputs), targets) -> scalar for batches (inputs..., targets);
             or give compute_loss(module, batch) -> scalar for any other batch format.
    batches: an iterable of batches (a DataLoader works), read ONCE and kept on the device.
             L(θ) = Σ_b w_b·loss_b with w_b ∝ the batch's sample count (weights='samples':
             the mean over samples for a mean-reduced loss, as the library's own models) or
             w_b = 1/B (weights='batches'); equal-sized batches give the same.
    ctx:     a hessblock.Context (default: a new one with `seed`, closed with the model).
    hvp_method: how the library's k-direction products (hvp_multi: SLQ's probes, Hessian
             columns) are computed: 'func', 'grads_batched', 'loop' (as hvp_batched), or
             'auto': batched_hvp_method(), but 'grads_batched' with compute_loss (which
             'func' does not support).

    Put the module in the mode you want analysed (module.eval() for no dropout) first.
    θ: model.params.data is the library's copy, in the module's dtype (f32 modules get f32
    params and f32 callbacks); see push()/pull() and the module docstring for when it is
    copied. Other methods are hessblock.Model's, plus torch-side
    products on the module's device: hvp_torch, hvp_batched, block_hvp_torch.
    """

    def __new__(cls, module, loss_fn=None, batches=(), blocks=None, ctx=None, weights="samples",
                compute_loss=None, seed=0, hvp_method="auto"):
        if not isinstance(module, torch.nn.Module):
            raise InvalidArgument("module must be a torch.nn.Module, got %s" % type(module).__name__, -1)
        if loss_fn is None and compute_loss is None:
            raise InvalidArgument("give loss_fn or compute_loss", -1)
        from .core import Context
        own = ctx is None
        if own:
            ctx = Context(seed=seed)
        try:
            br = _Bridge(module, loss_fn, batches, blocks, weights, compute_loss)
            br.hvp_method = _library_hvp_method(hvp_method, compute_loss)
            params = Params(ctx, "f64" if br.dtype == torch.float64 else "f32")
            shapes = {n: tuple(p.shape) for n, p in zip(br.names, br.tensors)}
            for bname, kind, pname, _, rows in br.layout:
                shape = _count_rows(shapes[pname], rows)
                params.add_block(bname, shape if shape else (1,), kind)
            params.finalize()
            params.data[:] = br.pull()       # the one copy module -> library at construction
            self = cls.from_callbacks(ctx, params, br.np_loss_grad, br.np_hvp,
                                      hvp_multi=br.np_hvp_multi, block_hvp=br.np_block_hvp)
        except BaseException:
            if own:
                ctx.close()
            raise
        br.theta_seen = params.data.copy()   # the module already holds this θ
        self._bridge = br
        self._own_ctx = own
        return self

    def __init__(self, *args, **kwargs):   # everything happens in __new__ (from_callbacks)
        pass

    def close(self):
        own, self._own_ctx = getattr(self, "_own_ctx", False), False
        super().close()
        if own:      # the context made for this model (closing it closes the model first)
            self._ctx.close()

    # -- θ between the library and the module
    @property
    def module(self):
        return self._bridge.module

    def push(self):
        """Write the library's θ into the module now (e.g. after a library optimizer step;
        evaluations do this themselves when θ changed)."""
        self._bridge.push(self.params.data, force=True)

    def pull(self):
        """Read the module's parameters into the library's θ (after changing the module in
        torch, e.g. training it with a torch optimizer)."""
        self.params.data[:] = self._bridge.pull()
        self._bridge.theta_seen = self.params.data.copy()

    @property
    def torch_dtype(self):
        """The module's parameter dtype: torch products run in it."""
        return self._bridge.dtype

    @property
    def torch_device(self):
        """The module's device: torch products run there."""
        return self._bridge.device

    @property
    def torch_calls(self):
        """Counters: loss_grad, hvp, hvp_multi and block_hvp callbacks, θ copies into the
        module."""
        return dict(self._bridge.calls)

    @property
    def hvp_method(self):
        """The method of the library's batched products (hvp_multi): 'func',
        'grads_batched' or 'loop' ('loop' after a batched call failed: see hvp_method=)."""
        return self._bridge.hvp_method

    # -- torch-side products (tensors on the module's device and dtype; no library call)
    def _sync(self):
        self._bridge.push(self.params.data)

    def hvp_torch(self, v):
        """H·v computed by torch (double backward), v a flat tensor or array of length n."""
        self._sync()
        return self._bridge.hvp_t(self._tt(v, (self.n,)))

    def hvp_batched(self, V, method="auto"):
        """H·V for k directions (rows of V, shape (k, n)) in one batched torch call:
        method 'func' (vmap of the HVP over the directions: torch.func in 2.x, functorch
        in 1.13), 'grads_batched' (autograd.grad(..., is_grads_batched=True), torch >= 1.11)
        or 'loop'; 'auto' = batched_hvp_method()."""
        self._sync()
        V = self._tt(V, None)
        if V.dim() != 2 or V.shape[1] != self.n:
            raise ShapeError("V must have shape (k, %d), got %s" % (self.n, tuple(V.shape)), -3)
        return self._bridge.hvp_batched_t(V, batched_hvp_method() if method == "auto" else method)

    def block_hvp_torch(self, block, v_b):
        """H_bb·v_b for block b (index or name): grad of (g_b·v_b) w.r.t. block b only."""
        self._sync()
        b = self.params.block_info(block)
        return self._bridge.block_hvp_t(b.index, self._tt(v_b, (b.numel,)))

    def _tt(self, x, shape):
        t = x.to(self._bridge.device, self._bridge.dtype) if torch.is_tensor(x) else \
            self._bridge.to_torch(np.asarray(x, dtype=_np_dtype(self._bridge.dtype)))
        if shape is not None:
            if t.numel() != shape[0]:
                raise ShapeError("expected %d elements, got %d" % (shape[0], t.numel()), -3)
            t = t.reshape(shape)
        return t

    def __repr__(self):
        if self.closed:
            return "<hessblock.torch.Model closed>"
        br = self._bridge
        return "<hessblock.torch.Model %s n=%d blocks=%d %s %s>" % (
            type(br.module).__name__, self.n, self.params.num_blocks, br.dtype, br.device)


# ---- one-call analysis -------------------------------------------------------------------
def heterogeneity(module, loss_fn, data, blocks=None, probes=10, steps=80, traces=True,
                  plot=None, ctx=None, seed=0, grid_points=1024, sigma_rel=0.01, **model_options):
    """Per-block SLQ spectra, their Jensen-Shannon matrix and its mean (JS⁰ when the module
    is at its initialisation), and per-block Hutchinson traces, for a torch module.

    Returns a dict: 'names', 'kinds' {name: BlockKind}, 'spectra' {name: Spectrum}, 'js'
    (B×B) and 'js_mean' on the raw spectra (the CLI's js0), 'js_normalized' and
    'js_mean_normalized' with each spectrum scaled by its own largest |λ| first (the CLI's
    js0_normalized), 'traces' {name: (trace, stderr)} (traces=True), 'figures' (with
    matplotlib, the CLI's two: {'densities': a Figure with one panel per block, 'js': the
    Axes of the JS heat map}, written to <plot>_densities.png and <plot>_js.png when plot
    is a path prefix; None without matplotlib), and 'model' (the open hessblock.torch.Model: close it when done).
    probes/steps/grid_points/sigma_rel are the CLI's `spectrum` options; model_options go
    to Model (weights=, compute_loss=).
    """
    from . import study
    from .slq import SLQ, js_matrix
    m = Model(module, loss_fn, data, blocks=blocks, ctx=ctx, seed=seed, **model_options)
    try:
        r = study.spectrum(m, probes=probes, steps=steps, full=False, normalize=False,
                           grid_points=grid_points, sigma_rel=sigma_rel, seed=seed)
        out = {"names": r["names"], "kinds": {b.name: b.kind for b in m.params.blocks},
               "spectra": r["blocks"], "js": r["js"], "js_mean": r["js_mean"],
               "js_normalized": None, "js_mean_normalized": None, "traces": None,
               "figures": None, "model": m}
        if len(r["blocks"]) >= 2:
            out["js_normalized"], out["js_mean_normalized"] = js_matrix(
                list(r["blocks"].values()), normalize=True, grid_points=grid_points,
                sigma_rel=sigma_rel)
        if traces:
            with SLQ(m.context, probes=probes) as s:
                t, e = s.trace_model_blocks(m)
            out["traces"] = {nm: (float(t[i]), float(e[i]))
                             for i, nm in enumerate(m.params.names())}
        out["figures"] = _figures(out, plot)
    except BaseException:
        m.close()
        raise
    return out


def _figures(res, prefix):
    """The CLI's two figures (tools/hessblock/results.c): small multiples of the per-block
    densities, each block on its own eigenvalue range, and the JS heat map."""
    from . import plot
    if not plot.available():
        return None
    plt = plot._mpl()
    names, spectra = res["names"], res["spectra"]
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax, nm in zip(axes.flat, names):
        lo, hi = spectra[nm].extremes()
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1e-12)
        grid = np.linspace(lo - pad, hi + pad, 256)
        plot.densities(grid, spectra[nm], ax=ax)
        ax.set_title(nm, fontsize="small")
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    ax_j = plot.js_matrix(res["js"], names) if res["js"] is not None else None
    if prefix:
        fig.savefig(str(prefix) + "_densities.png", dpi=120)
        if ax_j is not None:
            plot.save(ax_j, str(prefix) + "_js.png")
    return {"densities": fig, "js": ax_j}
