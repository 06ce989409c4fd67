"""hessblock.torch: the PyTorch bridge (issue 14). torch is optional: without it this
module is skipped with the sanctioned reason (conftest.optional); CUDA variants skip the
same way where no GPU is present. Every random input has a fixed seed."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import OPTIONAL, optional

torch = optional("torch")
import hessblock as hb  # noqa: E402

F = torch.nn.functional


def devices():
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    return out


def need_device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("%s CUDA device" % OPTIONAL)


# ---- networks and data -------------------------------------------------------------------
def mlp(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(),
                               torch.nn.Linear(6, 3)).to(dtype)


def mlp_data(n=48, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (n,), generator=g)
    return X, y


class TinyTransformer(torch.nn.Module):
    """Token + position embedding, one pre-LN encoder layer (causal), final LN, head."""

    def __init__(self, vocab=11, width=8, heads=2, context=6):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, width)
        self.pos = torch.nn.Parameter(0.1 * torch.randn(context, width))
        self.layer = torch.nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width,
                                                      dropout=0.0, batch_first=True,
                                                      norm_first=True)
        self.ln_f = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocab)
        self.register_buffer("mask", torch.triu(torch.full((context, context), float("-inf")), 1))

    def forward(self, x):
        T = x.shape[1]
        h = self.emb(x) + self.pos[:T]
        h = self.layer(h, src_mask=self.mask[:T, :T])
        return self.head(self.ln_f(h)).reshape(-1, self.head.out_features)


def transformer(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return TinyTransformer().to(dtype)


def text_batches(n_batches=2, N=4, T=6, vocab=11, seed=2):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        seq = torch.randint(0, vocab, (N, T + 1), generator=g)
        out.append((seq[:, :-1], seq[:, 1:].reshape(-1)))
    return out


# ---- independent references: torch on the flat vector, no bridge code ---------------------
def flat_loss_fn(module, batches):
    """L(θ) of a flat θ in named_parameters() order, as a function for torch.autograd.functional."""
    from torch.nn.utils.stateless import functional_call
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]
    total = sum(len(b[-1]) for b in batches)

    def f(theta):
        state = {n: t.reshape(s) for n, t, s in zip(names, theta.split(sizes), shapes)}
        return sum(len(y) / total * F.cross_entropy(functional_call(module, state, (x,)), y)
                   for x, y in batches)
    return f


def flat_theta(module):
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def reference_hvp(module, batches, v):
    f = flat_loss_fn(module, batches)
    return torch.autograd.functional.hvp(f, flat_theta(module), v)[1]


def dense_block_hessian(module, batches, pname, rows=None):
    """Principal sub-block of the Hessian for one parameter (rows: a row range of it)."""
    p = dict(module.named_parameters())[pname]
    total = sum(len(b[-1]) for b in batches)
    base = p.detach().clone()
    sl = slice(None) if rows is None else slice(*rows)
    from torch.nn.utils.stateless import functional_call

    def f(part):
        full = base.clone()
        full[sl] = part.reshape(full[sl].shape)
        return sum(len(y) / total * F.cross_entropy(functional_call(module, {pname: full}, (x,)), y)
                   for x, y in batches)
    H = torch.autograd.functional.hessian(f, base[sl].reshape(-1))
    return H.detach().cpu().numpy()


def w1(nodes, weights, eigs):
    """Wasserstein-1 distance between a weighted point measure and the uniform measure
    on `eigs`: the integral of |F1 − F2| over the pooled support."""
    pts = np.concatenate([nodes, eigs])
    w = np.concatenate([weights / weights.sum(), -np.full(len(eigs), 1.0 / len(eigs))])
    o = np.argsort(pts, kind="stable")
    F = np.cumsum(w[o])[:-1]
    return float(np.sum(np.abs(F) * np.diff(pts[o])))


def make_model(ctx, module, batches, device="cpu", **kw):
    module.to(device)
    batches = [tuple(t.to(device) for t in b) for b in batches]
    return hb.torch.Model(module, F.cross_entropy, batches, ctx=ctx, **kw), batches


def rel_err(a, ref):
    a, ref = np.asarray(a), np.asarray(ref)
    return np.abs(a - ref).max() / np.abs(ref).max()


# ---- import hygiene ----------------------------------------------------------------------
def test_import_hessblock_does_not_import_torch():
    code = "import sys, hessblock; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert hb.torch.Model.__module__ == "hessblock.torch"   # and the lazy attribute works


# ---- parameters and blocks ---------------------------------------------------------------
def test_blocks_mirror_named_parameters_with_kinds(ctx):
    net = transformer()
    m, _ = make_model(ctx, net, text_batches(1))
    kinds = {b.name: b.kind.name.lower() for b in m.params.blocks}
    assert kinds["emb.weight"] == "embedding" and kinds["pos"] == "other"
    # the packed q/k/v projection is split into three blocks of its rows: same memory
    assert [kinds["layer.self_attn.in_proj_weight." + s] for s in "qkv"] == ["attn_q", "attn_k", "attn_v"]
    assert kinds["layer.self_attn.in_proj_bias.q"] == "bias"
    assert kinds["layer.self_attn.out_proj.weight"] == "attn_o"
    assert kinds["layer.linear1.weight"] == "mlp_in" and kinds["layer.linear2.weight"] == "mlp_out"
    assert kinds["layer.norm1.weight"] == "norm" and kinds["layer.norm1.bias"] == "norm"
    assert kinds["ln_f.weight"] == "norm" and kinds["head.weight"] == "head"
    assert kinds["head.bias"] == "bias"
    # θ is the module's parameters, flat, in named_parameters() order
    np.testing.assert_array_equal(m.params.data, flat_theta(net).numpy())
    assert m.n == sum(p.numel() for p in net.parameters())
    # a user mapping overrides names and kinds (exact names and fnmatch patterns)
    m2, _ = make_model(ctx, transformer(), text_batches(1),
                       blocks={"pos": ("wpe", "embedding"), "layer.norm*": "other"})
    k2 = {b.name: b.kind.name.lower() for b in m2.params.blocks}
    assert k2["wpe"] == "embedding" and k2["layer.norm2.bias"] == "other"
    assert k2["ln_f.weight"] == "norm"
    m3, _ = make_model(ctx, mlp(), [mlp_data()], blocks=lambda name, owner: "linear"
                       if name.endswith("weight") else None)
    assert [b.kind.name.lower() for b in m3.params.blocks] == ["linear", "bias", "linear", "bias"]


def test_bad_modules_and_data_are_refused(ctx):
    net = mlp()
    net[2].to(torch.float32)
    with pytest.raises(hb.InvalidArgument, match="one dtype"):
        hb.torch.Model(net, F.cross_entropy, [mlp_data()], ctx=ctx)
    with pytest.raises(hb.InvalidArgument, match="no batches"):
        hb.torch.Model(mlp(), F.cross_entropy, [], ctx=ctx)
    with pytest.raises(hb.InvalidArgument, match="torch.nn.Module"):
        hb.torch.Model(lambda x: x, F.cross_entropy, [mlp_data()], ctx=ctx)
    m = hb.torch.Model(mlp(), F.cross_entropy, [mlp_data()[0]], ctx=ctx)  # no targets
    with pytest.raises(hb.InvalidArgument, match="compute_loss"):
        m.loss()
    m = hb.torch.Model(mlp(), F.cross_entropy, [mlp_data()], ctx=ctx)
    with pytest.raises(hb.ShapeError):
        m.hvp_batched(np.ones((2, m.n + 1)))


# ---- products against torch's own double backward -----------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("net_fn,data_fn", [(mlp, lambda: [mlp_data()]),
                                            (transformer, lambda: text_batches(2))])
def test_f64_loss_grad_hvp_match_torch(ctx, rng, device, net_fn, data_fn):
    need_device(device)
    net = net_fn()
    m, batches = make_model(ctx, net, data_fn(), device)
    f = flat_loss_fn(net, batches)
    theta = flat_theta(net)
    loss, grad = m.loss_grad()
    t = theta.clone().requires_grad_(True)
    ref_loss = f(t)
    (ref_grad,) = torch.autograd.grad(ref_loss, t)
    assert abs(loss - float(ref_loss)) <= 1e-13 * abs(float(ref_loss))
    assert rel_err(grad, ref_grad.cpu().numpy()) <= 1e-12
    v = rng.normal(size=m.n)
    ref = reference_hvp(net, batches, torch.from_numpy(v).to(device)).cpu().numpy()
    assert rel_err(m.hvp(v), ref) <= 1e-12                      # through the library
    assert rel_err(m.hvp_torch(v).cpu().numpy(), ref) <= 1e-12  # torch-side
    assert m.has_exact_hvp


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_f32_path_matches_f64_to_1e5(ctx, rng, device):
    need_device(device)
    net32, net64 = transformer(torch.float32), transformer(torch.float64)
    net64.load_state_dict({k: v.double() for k, v in net32.state_dict().items()})
    data = text_batches(2)
    m, batches = make_model(ctx, net32, data, device)
    assert m.torch_dtype == torch.float32
    net64.to(device)
    b64 = [tuple(t.to(device) for t in b) for b in data]
    v = rng.normal(size=m.n)
    ref = reference_hvp(net64, b64, torch.from_numpy(v).to(device)).cpu().numpy()
    assert rel_err(m.hvp(v), ref) <= 1e-5
    loss, grad = m.loss_grad()
    t = flat_theta(net64).requires_grad_(True)
    (ref_grad,) = torch.autograd.grad(flat_loss_fn(net64, b64)(t), t)
    assert rel_err(grad, ref_grad.cpu().numpy()) <= 1e-5


@pytest.mark.parametrize("method", ["grads_batched", "func", "loop"])
def test_batched_hvps_equal_single_ones(ctx, rng, method):
    if method == "grads_batched" and not hb.torch._has_grads_batched():
        pytest.skip("%s torch with autograd.grad(is_grads_batched=)" % OPTIONAL)
    if method == "func" and hb.torch._func_api() is None:
        pytest.skip("%s torch.func or functorch" % OPTIONAL)
    m, _ = make_model(ctx, mlp(), [mlp_data()])
    V = rng.normal(size=(5, m.n))
    HV = m.hvp_batched(V, method=method).numpy()
    assert rel_err(HV, m.hvp_multi(V)) <= 1e-12
    assert hb.torch.batched_hvp_method() in ("func", "grads_batched", "loop")
    assert rel_err(m.hvp_batched(V).numpy(), HV) <= 1e-12       # 'auto' picks one of them


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_block_hvp_is_the_principal_sub_block(ctx, rng, device):
    need_device(device)
    net = transformer()
    m, batches = make_model(ctx, net, text_batches(1), device)
    for bname, _, pname, r0, rows in hb.torch.block_kinds(net):
        if bname not in ("layer.self_attn.in_proj_weight.k", "layer.norm2.weight", "head.bias"):
            continue
        H = dense_block_hessian(net, batches, pname, None if rows is None else (r0, r0 + rows))
        vb = rng.normal(size=H.shape[0])
        assert rel_err(m.block_hvp_torch(bname, vb).cpu().numpy(), H @ vb) <= 1e-12
        assert rel_err(m.block_hvp(bname, vb), H @ vb) <= 1e-12   # library: block callback


# ---- the library's products through the batched and block callbacks (issue 14.3) ---------
def _method_available(method):
    if method == "grads_batched" and not hb.torch._has_grads_batched():
        pytest.skip("%s torch with autograd.grad(is_grads_batched=)" % OPTIONAL)
    if method == "func" and hb.torch._func_api() is None:
        pytest.skip("%s torch.func or functorch" % OPTIONAL)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("method", ["auto", "grads_batched", "func", "loop"])
def test_library_hvp_multi_is_one_batched_torch_call(ctx, rng, device, method):
    """The library's hvp_multi (SLQ's probes, Hessian columns) reaches torch as ONE
    hvp_multi callback of all k directions, computed by the chosen batched method."""
    need_device(device)
    _method_available(method)
    net = mlp()
    m, batches = make_model(ctx, net, [mlp_data(24), mlp_data(24, seed=5)], device,
                            hvp_method=method)
    want = hb.torch.batched_hvp_method() if method == "auto" else method
    assert m.hvp_method == want
    V = rng.normal(size=(4, m.n))
    HV = m.hvp_multi(V)
    assert m.torch_calls["hvp_multi"] == 1 and m.torch_calls["hvp"] == 0
    ref = np.stack([reference_hvp(net, batches, torch.from_numpy(v).to(device)).cpu().numpy()
                    for v in V])
    assert rel_err(HV, ref) <= 1e-12
    assert m.hvp_method == want          # no fallback happened
    m.hvp(V[0])                          # one direction: the single-direction callback
    assert m.torch_calls["hvp"] == 1


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_library_hvp_multi_batched_on_a_transformer(ctx, rng, device):
    need_device(device)
    net = transformer()
    m, batches = make_model(ctx, net, text_batches(2), device)
    V = rng.normal(size=(3, m.n))
    ref = np.stack([reference_hvp(net, batches, torch.from_numpy(v).to(device)).cpu().numpy()
                    for v in V])
    assert rel_err(m.hvp_multi(V), ref) <= 1e-12
    assert m.torch_calls["hvp_multi"] == 1 and m.hvp_method != "loop"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_library_block_hvp_is_the_block_callback(ctx, rng, device):
    """The library's block_hvp (per-block SLQ and traces) is torch's block product of all
    k directions in one call: grad of g_b w.r.t. block b's parameter only."""
    need_device(device)
    net = transformer()
    m, batches = make_model(ctx, net, text_batches(1), device)
    for bname, _, pname, r0, rows in hb.torch.block_kinds(net):
        if bname not in ("layer.self_attn.in_proj_weight.v", "layer.norm1.bias", "emb.weight"):
            continue
        H = dense_block_hessian(net, batches, pname, None if rows is None else (r0, r0 + rows))
        Vb = rng.normal(size=(3, H.shape[0]))
        before = m.torch_calls["block_hvp"]
        assert rel_err(m.block_hvp(bname, Vb), Vb @ H) <= 1e-12
        assert m.torch_calls["block_hvp"] == before + 1
    assert m.torch_calls["hvp"] == 0 and m.torch_calls["hvp_multi"] == 0
    # the bridge's per-row loop gives the same (the path taken where torch lacks batching)
    b = m.params.index("layer.self_attn.in_proj_weight.v")
    Vt = torch.from_numpy(rng.normal(size=(2, m.params.block_info(b).numel))).to(device)
    one = m._bridge.block_hvp_multi_t(b, Vt, batched=True)
    loop = m._bridge.block_hvp_multi_t(b, Vt, batched=False)
    assert rel_err(one.cpu().numpy(), loop.cpu().numpy()) <= 1e-12


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_f32_module_is_an_f32_library_model(ctx, rng, device):
    """An f32 module gives f32 params and f32 callbacks (no f64 copy of θ): full, batched
    and block products agree with the f64 twin to f32 accuracy, and SLQ runs on it."""
    need_device(device)
    net32, net64 = transformer(torch.float32), transformer(torch.float64)
    net64.load_state_dict({k: v.double() for k, v in net32.state_dict().items()})
    data = text_batches(2)
    m, _ = make_model(ctx, net32, data, device)
    assert m.params.dtype == hb.DType.F32 and m.params.data.dtype == np.float32
    np.testing.assert_array_equal(m.params.data, flat_theta(net32).cpu().numpy())
    net64.to(device)
    b64 = [tuple(t.to(device) for t in b) for b in data]
    V = rng.normal(size=(3, m.n))
    ref = np.stack([reference_hvp(net64, b64, torch.from_numpy(v).to(device)).cpu().numpy()
                    for v in V])
    assert rel_err(m.hvp_multi(V), ref) <= 1e-5
    assert rel_err(m.hvp(V[1]), ref[1]) <= 1e-5
    H = dense_block_hessian(net64, b64, "head.bias")
    Vb = rng.normal(size=(2, H.shape[0]))
    assert rel_err(m.block_hvp("head.bias", Vb), Vb @ H) <= 1e-5
    e = np.linalg.eigvalsh(H)
    with hb.SLQ(ctx, probes=2, steps=len(e)) as s:
        sp = s.run(m, block="head.bias")
    for p in sp.probes:     # a full-length run: the Ritz values are the eigenvalues (f32)
        assert np.abs(p.nodes[:, None] - e[None, :]).min(1).max() <= 1e-4 * (e[-1] - e[0])


def test_batched_failure_falls_back_to_the_loop(ctx, rng, monkeypatch):
    """Where torch has no batching rule for an op of the module, the library's hvp_multi
    warns once and loops over the directions (exact, slower) for the model's lifetime."""
    m, _ = make_model(ctx, mlp(), [mlp_data()])
    br, real = m._bridge, m._bridge.hvp_batched_t

    def no_batching(V, method):
        if method != "loop":
            raise RuntimeError("Batching rule not implemented for aten::fake")
        return real(V, method)
    monkeypatch.setattr(br, "hvp_batched_t", no_batching)
    V = rng.normal(size=(3, m.n))
    with pytest.warns(RuntimeWarning, match="Batching rule not implemented"):
        HV = m.hvp_multi(V)
    assert m.hvp_method == "loop"
    assert rel_err(HV, np.stack([m.hvp(v) for v in V])) <= 1e-12


def test_hvp_method_is_checked(ctx):
    with pytest.raises(hb.InvalidArgument, match="hvp_method"):
        make_model(ctx, mlp(), [mlp_data()], hvp_method="fast")
    X, y = mlp_data()
    cl = lambda mod, b: F.cross_entropy(mod(b["x"]), b["y"])   # noqa: E731
    m = hb.torch.Model(mlp(), batches=[{"x": X, "y": y}], ctx=ctx, compute_loss=cl)
    assert m.hvp_method in ("grads_batched", "loop")           # 'func' needs (inputs, targets)
    if hb.torch._func_api() is not None:
        with pytest.raises(hb.InvalidArgument, match="compute_loss"):
            hb.torch.Model(mlp(), batches=[{"x": X, "y": y}], ctx=ctx, compute_loss=cl,
                           hvp_method="func")


# ---- data: several batches ---------------------------------------------------------------
def test_dataloader_equals_the_mean_over_batches(ctx, rng):
    X, y = mlp_data(48)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=12)
    net = mlp()
    m = hb.torch.Model(net, F.cross_entropy, loader, ctx=ctx)
    parts = [hb.torch.Model(net, F.cross_entropy, [b], ctx=ctx) for b in loader]
    assert len(parts) == 4
    v = rng.normal(size=m.n)
    loss, grad = m.loss_grad()
    grad = grad.copy()
    per = [p.loss_grad() for p in parts]
    assert abs(loss - np.mean([lv for lv, _ in per])) <= 1e-14
    np.testing.assert_allclose(grad, np.mean([g.copy() for _, g in [p.loss_grad() for p in parts]], 0),
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(m.hvp(v), np.mean([p.hvp(v) for p in parts], 0), rtol=0, atol=1e-14)
    # and the mean over batches of a mean-reduced loss is the full-batch objective
    full = hb.torch.Model(net, F.cross_entropy, [(X, y)], ctx=ctx)
    assert rel_err(m.hvp(v), full.hvp(v)) <= 1e-12
    # unequal batches: 'samples' (default) weights by size = full batch; 'batches' = plain mean
    uneven = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=20)
    ms = hb.torch.Model(net, F.cross_entropy, uneven, ctx=ctx)
    mb = hb.torch.Model(net, F.cross_entropy, uneven, ctx=ctx, weights="batches")
    assert abs(ms.loss() - full.loss()) <= 1e-14
    assert abs(mb.loss() - np.mean([F.cross_entropy(net(a), b).item() for a, b in uneven])) <= 1e-14


# ---- θ between the library and the module -------------------------------------------------
def test_theta_is_copied_into_the_module_only_when_it_changed(ctx):
    net = mlp()
    m, _ = make_model(ctx, net, [mlp_data()])
    assert m.torch_calls["theta_copies"] == 0       # construction: module -> library only
    v = np.ones(m.n)
    m.loss_grad()
    m.hvp(v)
    m.hvp(v)
    assert m.torch_calls["theta_copies"] == 0       # unchanged θ: no copy
    m.params.data[:] *= 0.5                          # the library changes θ (an optimizer would)
    loss = m.loss()
    assert m.torch_calls["theta_copies"] == 1
    np.testing.assert_array_equal(flat_theta(net).numpy(), m.params.data)
    m.hvp(v)
    assert m.torch_calls["theta_copies"] == 1
    # the user changes the module in torch: pull() brings it back into the library
    with torch.no_grad():
        net[0].bias.fill_(0.25)
    m.pull()
    assert np.all(m.params["0.bias"] == 0.25)
    assert abs(m.loss() - F.cross_entropy(net(mlp_data()[0]), mlp_data()[1]).item()) <= 1e-14
    # a library optimizer trains the module through the bridge
    with hb.Optimizer(ctx, "sgd", m.params, lr=0.5) as opt:
        l0 = m.loss()
        for _ in range(20):
            m.loss_grad()
            opt.step()
        m.push()
    assert m.loss() < l0
    np.testing.assert_array_equal(flat_theta(net).numpy(), m.params.data)


# ---- spectra: per-block SLQ against dense block Hessians ----------------------------------
def _check_block_spectra(ctx, net, batches, which, steps):
    """W1(SLQ measure, exact eigenvalues) <= 1% of the range for blocks of >= 256 entries,
    with n_v = max(10, ceil(1e4 / n)) probes: the probe noise of the weights is
    O(1/sqrt(n·n_v)) (tests/test_slq.c states the same criterion at n = 1000, n_v = 10).
    Blocks smaller than `steps` are checked exactly instead: a Lanczos run of full length
    with full reorthogonalisation has the exact eigenvalues as its Ritz values."""
    m = hb.torch.Model(net, F.cross_entropy, batches, ctx=ctx)
    layout = {bn: (pn, r0, rows) for bn, _, pn, r0, rows in hb.torch.block_kinds(net)}
    for name in which:
        pn, r0, rows = layout[name]
        H = dense_block_hessian(net, batches, pn, None if rows is None else (r0, r0 + rows))
        e = np.linalg.eigvalsh(0.5 * (H + H.T))
        n, span = len(e), e[-1] - e[0]
        if n >= 256:
            with hb.SLQ(ctx, probes=max(10, -(-10000 // n)), steps=steps) as s:
                sp = s.run(m, block=name)
            d = w1(*sp.nodes_weights(), e)
            assert d <= 0.01 * span, "%s: W1 = %.3g%% of the range" % (name, 100 * d / span)
        else:
            with hb.SLQ(ctx, probes=2, steps=n) as s:
                sp = s.run(m, block=name)
            for p in sp.probes:
                gap = np.abs(p.nodes[:, None] - e[None, :]).min(1)
                assert gap.max() <= 1e-8 * span, name
                assert abs(p.weights.sum() - 1) <= 1e-12


def test_mlp_block_spectra_match_dense_hessians(ctx):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 10)).double()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(64, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (64,), generator=g)
    _check_block_spectra(ctx, net, [(X, y)], ["0.weight", "0.bias", "2.bias"], 80)


def test_transformer_block_spectra_match_dense_hessians(ctx):
    torch.manual_seed(0)
    net = TinyTransformer(width=24).double()
    _check_block_spectra(ctx, net, text_batches(1),
                         ["layer.self_attn.in_proj_weight.q", "layer.norm1.weight"], 30)


# ---- the one-call analysis ---------------------------------------------------------------
def test_heterogeneity_one_call(tmp_path):
    net = mlp()
    r = hb.torch.heterogeneity(net, F.cross_entropy, [mlp_data()], probes=4, steps=20,
                               plot=str(tmp_path / "mlp"))
    try:
        names = [n for n, _ in net.named_parameters()]
        assert r["names"] == names and set(r["spectra"]) == set(names)
        assert r["js"].shape == (4, 4) and np.allclose(np.diag(r["js"]), 0)
        off = r["js"][~np.eye(4, dtype=bool)]
        assert abs(r["js_mean"] - off.mean()) <= 1e-12 and 0 < r["js_mean"] <= 1
        M, mean = hb.js_matrix([r["spectra"][n] for n in names], normalize=True)
        assert np.array_equal(M, r["js_normalized"]) and mean == r["js_mean_normalized"]
        assert r["kinds"]["2.weight"] == hb.BlockKind.HEAD
        # the Hutchinson traces estimate the dense block traces
        for nm, (tr, se) in r["traces"].items():
            Hb = r["model"].hessian(nm)
            assert abs(tr - np.trace(Hb)) <= 5 * se + 1e-10, nm
        try:
            import matplotlib  # noqa: F401
            assert (tmp_path / "mlp_densities.png").exists() and (tmp_path / "mlp_js.png").exists()
        except ImportError:
            assert r["figures"] is None
    finally:
        r["model"].close()


# ---- the bridge and the library's own gpt (the CLI's code path) agree ---------------------
class FlatGPT(torch.nn.Module):
    """The library's gpt (docs/models.md "## gpt"; bench/torch_compare.py) as a torch module
    with one parameter per library block, so θ and the blocks line up one to one."""

    def __init__(self, blocks, V, T, C, H, L):
        super().__init__()
        self.cfg, self.names = (V, T, C, H, L), [b.name for b in blocks]
        self.p = torch.nn.ParameterList(
            torch.nn.Parameter(torch.zeros(tuple(b.shape), dtype=torch.float64)) for b in blocks)

    def forward(self, idx):
        V, T, C, H, L = self.cfg
        P = dict(zip(self.names, self.p))
        N, d = idx.shape[0], C // H
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = P["wte"][idx] + P["wpe"][:T]
        for i in range(L):
            h = "h.%d." % i
            a = F.layer_norm(x, (C,), P[h + "ln_1.weight"], P[h + "ln_1.bias"], 1e-5)
            q, k, v = (F.linear(a, P[h + "attn." + w], P[h + "attn.%s.bias" % w])
                       .view(N, T, H, d).transpose(1, 2) for w in ("wq", "wk", "wv"))
            s = ((q @ k.transpose(-2, -1)) / d ** 0.5).masked_fill(mask, float("-inf"))
            y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(N, T, C)
            x = x + F.linear(y, P[h + "attn.wo"], P[h + "attn.wo.bias"])
            b = F.layer_norm(x, (C,), P[h + "ln_2.weight"], P[h + "ln_2.bias"], 1e-5)
            f = F.gelu(F.linear(b, P[h + "mlp.c_fc"], P[h + "mlp.c_fc.bias"]), approximate="tanh")
            x = x + F.linear(f, P[h + "mlp.c_proj"], P[h + "mlp.c_proj.bias"])
        x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], 1e-5)
        return F.linear(x, P["lm_head"]).reshape(N * T, V)


def test_bridge_and_builtin_gpt_give_the_same_js0(ctx, rng):
    """Same network, θ and data: the torch bridge and the library's own gpt (what
    `hessblock spectrum`/`analyze` run) give the same HVPs and the same JS⁰."""
    V, T, C, H, L, N = 16, 8, 16, 2, 1, 4
    builtin = hb.Model(ctx, "gpt", dtype="f64", vocab=V, context=T, width=C, heads=H,
                       layers=L, batch=N)
    x = rng.integers(0, V, size=(N, T)).astype(np.int32)
    y = rng.integers(0, V, size=(N, T)).astype(np.int32)
    builtin.set_batch(x, y)
    blocks = list(builtin.params.blocks)
    net = FlatGPT(blocks, V, T, C, H, L)
    with torch.no_grad():
        for p, b in zip(net.p, blocks):
            p.copy_(torch.from_numpy(builtin.params[b.name].reshape(tuple(b.shape))))
    kinds = {"p.%d" % i: (b.name, b.kind.name.lower()) for i, b in enumerate(blocks)}
    bridge = hb.torch.Model(net, F.cross_entropy,
                            [(torch.from_numpy(x).long(), torch.from_numpy(y).long().reshape(-1))],
                            ctx=ctx, blocks=kinds)
    assert bridge.params.names() == builtin.params.names()
    assert [b.kind for b in bridge.params.blocks] == [b.kind for b in blocks]
    np.testing.assert_array_equal(bridge.params.data, builtin.params.data)
    assert abs(bridge.loss() - builtin.loss()) <= 1e-13 * builtin.loss()
    v = rng.normal(size=bridge.n)
    assert rel_err(bridge.hvp(v), builtin.hvp(v)) <= 1e-12
    # the same SLQ (seed, probes, steps) on both: the same spectra up to rounding
    a = hb.study.spectrum(builtin, probes=2, steps=8, full=False, seed=5)
    b = hb.study.spectrum(bridge, probes=2, steps=8, full=False, seed=5)
    assert a["names"] == b["names"]
    np.testing.assert_allclose(b["js"], a["js"], rtol=0, atol=1e-8)
    assert abs(a["js_mean"] - b["js_mean"]) <= 1e-8 and a["js_mean"] > 0.05


def test_compute_loss_for_any_batch_format(ctx, rng):
    """Dict batches through compute_loss(module, batch); the same objective as tuples."""
    X, y = mlp_data(24)
    net = mlp()
    dicts = [{"x": X[:12], "y": y[:12]}, {"x": X[12:], "y": y[12:]}]
    m = hb.torch.Model(net, batches=dicts, ctx=ctx,
                       compute_loss=lambda mod, b: F.cross_entropy(mod(b["x"]), b["y"]))
    ref = hb.torch.Model(net, F.cross_entropy, [(X, y)], ctx=ctx)
    v = rng.normal(size=m.n)
    assert abs(m.loss() - ref.loss()) <= 1e-14
    assert rel_err(m.hvp(v), ref.hvp(v)) <= 1e-12
    with pytest.raises(hb.InvalidArgument, match="weights"):
        hb.torch.Model(net, F.cross_entropy, [(X, y)], ctx=ctx, weights="tokens")


def test_heterogeneity_figures_drive_matplotlib(monkeypatch, tmp_path):
    """The figure code path, on a recording stand-in for matplotlib where the real one is
    absent (with matplotlib, test_heterogeneity_one_call checks the files)."""
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    from unittest import mock
    mpl, plt = mock.MagicMock(), mock.MagicMock()
    mpl.pyplot = plt
    fig = mock.MagicMock()

    def subplots(rows=1, cols=1, **kw):
        if kw.get("squeeze") is False:
            return fig, np.array([[mock.MagicMock() for _ in range(cols)] for _ in range(rows)])
        return mock.MagicMock(), mock.MagicMock()
    plt.subplots.side_effect = subplots
    monkeypatch.setitem(sys.modules, "matplotlib", mpl)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", plt)
    r = hb.torch.heterogeneity(mlp(), F.cross_entropy, [mlp_data()], probes=2, steps=8,
                               traces=False, plot=str(tmp_path / "m"))
    r["model"].close()
    assert r["figures"]["densities"] is fig and r["figures"]["js"] is not None
    assert plt.subplots.call_args_list[0][0] == (1, 4)      # one panel per block
    fig.savefig.assert_called_once_with(str(tmp_path / "m") + "_densities.png", dpi=120)
    saved = [c[0][0] for c in r["figures"]["js"].figure.savefig.call_args_list]
    assert saved == [str(tmp_path / "m") + "_js.png"]
