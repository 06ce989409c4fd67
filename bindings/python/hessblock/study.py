"""High-level studies: the `hessblock` CLI's subcommands as Python functions over the
bindings (results as plain dicts of numpy arrays and Spectrum objects).

    spectrum(model, ...)        full and per-block spectra, JS matrix      (hessblock spectrum)
    train(model, ...)           one optimizer on one model, checkpoints     (hessblock train)
    quadratic(ctx, ...)         GD / SGD-momentum / Adam on quadratics      (hessblock quadratic)
    analyze(ctx, kind, ...)     JS at init + SGD vs Adam on one model       (hessblock analyze)
"""
import numpy as np

from ._handle import expect
from .errors import InvalidArgument
from .model import Model
from .optim import Optimizer, load_checkpoint, save_checkpoint
from .errors import StateError
from .slq import SLQ, js_matrix, js_matrix_stderr


def spectrum(model, probes=10, steps=80, full=True, blocks=True, grid_points=1024,
             sigma_rel=0.01, normalize=False, seed=None, bootstrap=200):
    """SLQ spectra of `model`'s Hessian: 'full' (Spectrum or None), 'blocks' {name:
    Spectrum} (blocks=True: all, a list of names/indices: those, False: none), and for
    two or more blocks 'js' (matrix, on one shared grid) and 'js_mean', with their
    bootstrap standard errors over probes 'js_stderr' and 'js_mean_stderr' (`bootstrap`
    replicates; None with one probe or bootstrap=0; probe noise only, not the bias of a
    short Lanczos run: docs/spectral.md)."""
    ctx = expect(model, Model, "model").context
    if seed is not None:
        ctx.seed = seed
    out = {"full": None, "blocks": {}, "names": [], "js": None, "js_mean": None,
           "js_stderr": None, "js_mean_stderr": None}
    with SLQ(ctx, probes=probes, steps=steps) as s:
        if full:
            out["full"] = s.run(model)
        if blocks:
            names = model.params.names() if blocks is True else [
                model.params.block_info(b).name for b in blocks]
            for nm in names:
                out["blocks"][nm] = s.run(model, block=nm)
            out["names"] = names
    if len(out["blocks"]) >= 2:
        out["js"], out["js_mean"] = js_matrix(list(out["blocks"].values()), normalize=normalize,
                                              grid_points=grid_points, sigma_rel=sigma_rel)
        if bootstrap and probes >= 2:
            try:
                out["js_stderr"], out["js_mean_stderr"] = js_matrix_stderr(
                    list(out["blocks"].values()), replicates=bootstrap, normalize=normalize,
                    grid_points=grid_points, sigma_rel=sigma_rel)
            except StateError:  # a block whose run kept one probe: no estimate
                pass
    return out


def train(model, optimizer="adam", steps=100, lr=1e-3, schedule="constant", warmup=0,
          checkpoint=None, checkpoint_every=0, resume=None, callback=None, **options):
    """Train `model` on its current data: each step loss_grad then optimizer step.
    options go to the Optimizer (momentum=, weight_decay=, beta1=, ...). schedule:
    'constant' or 'cosine' (warmup then cosine to 0 over `steps`). resume: a checkpoint
    to load first (parameters, optimizer state and step count); checkpoint: a path
    written every `checkpoint_every` steps and at the end. callback(step, loss) may
    return False to stop. Returns {'losses', 'steps', 'optimizer'} (the Optimizer is
    left open for further use). An SST/LoRA wrapper (hessblock.SSTModel) is trained as
    `hessblock train --optimizer sst|lora` does: its schedule (hb_sst_begin_step /
    hb_sst_end_step) runs at the optimizer's step count, so a resume continues it."""
    from .sst import SSTModel
    ctx = expect(model, Model, "model").context
    wrapper = isinstance(model, SSTModel)
    opt = Optimizer(ctx, optimizer, model.params, lr=lr, **options)
    if schedule == "cosine":
        opt.schedule_cosine(warmup, max(steps, warmup + 1))
    elif schedule != "constant":
        raise InvalidArgument("schedule must be 'constant' or 'cosine'", -1)
    if resume:
        load_checkpoint(resume, model.params, opt)
    losses = []
    while opt.step_count < steps:
        if wrapper:
            model.begin_step(opt.step_count, opt)
        loss, _ = model.loss_grad()
        opt.step()
        if wrapper:
            model.end_step()
        losses.append(loss)
        t = opt.step_count
        if checkpoint and checkpoint_every and t % checkpoint_every == 0:
            save_checkpoint(checkpoint, model.params, opt)
        if callback is not None and callback(t, loss) is False:
            break
    if checkpoint:
        save_checkpoint(checkpoint, model.params, opt)
    return {"losses": np.array(losses), "steps": opt.step_count, "optimizer": opt}


_METHODS = {"gd": ("sgd", {}, -6, 0), "sgd_momentum": ("sgd", {"momentum": 0.9}, -6, 0),
            "adam": ("adam", {}, -5, 0)}


def quadratic(ctx, family="heterogeneous", blocks=4, block_size=25, cond=5000.0,
              max_iters=1000, tol=1e-6, methods=("gd", "sgd_momentum", "adam"),
              per_decade=4):
    """The quadratic test bed: for each method, a learning-rate grid (per_decade points
    per decade), the iterations each lr needs to reach a relative loss gap
    (L − L*)/(L0 − L*) <= tol from θ = 0 (−1 if never within max_iters), the best lr and
    its gap curve. L* = −½·hᵀH⁻¹h from the exact blocks."""
    m = Model(ctx, "quadratic", quad_blocks=blocks, quad_block_size=block_size,
              quad_family=family, quad_cond=cond)
    with m:
        theta = m.params.data
        theta[:] = 0
        l0, g0 = m.loss_grad()
        h = -g0.copy()
        lstar = 0.0
        for b in m.params.blocks:
            hb_ = h[b.offset:b.offset + b.numel]
            lstar -= 0.5 * hb_ @ np.linalg.solve(m.quadratic_matrix(b.index), hb_)
        result = {"family": family, "cond": cond, "l0": l0, "lstar": lstar, "methods": {}}
        for name in methods:
            kind, extra, lo, hi = _METHODS[name]
            lrs = 10.0 ** (lo + np.arange((hi - lo) * per_decade + 1) / per_decade)
            iters, best = [], (None, None, None)
            for lr in lrs:
                theta[:] = 0
                with Optimizer(ctx, kind, m.params, lr=lr, **extra) as opt:
                    curve, hit = [], -1
                    for t in range(1, max_iters + 1):
                        loss, _ = m.loss_grad()
                        gap = (loss - lstar) / (l0 - lstar)
                        curve.append(gap)
                        if not np.isfinite(gap) or gap > 1e6:
                            break
                        if gap <= tol:
                            hit = t - 1
                            break
                        opt.step()
                iters.append(hit)
                key = (0, hit) if hit >= 0 else (1, curve[-1] if np.isfinite(curve[-1]) else np.inf)
                if best[0] is None or key < best[0]:
                    best = (key, lr, np.array(curve))
            result["methods"][name] = {"lrs": lrs, "iters": np.array(iters), "best_lr": best[1],
                                       "best_iters": best[0][1] if best[0][0] == 0 else -1,
                                       "curve": best[2]}
    return result


def analyze(ctx, kind, steps=100, probes=10, lanczos_steps=40, sgd_lr=0.1, adam_lr=1e-3,
            **model_options):
    """One model kind: block spectra and the JS matrix at initialisation (JS⁰), then SGD
    (momentum 0.9) and Adam trained from the same initial point for `steps` steps."""
    with Model(ctx, kind, **model_options) as m:
        init = m.params.data.copy()
        spec = spectrum(m, probes=probes, steps=lanczos_steps, full=False)
        out = {"kind": kind, "names": spec["names"], "js0": spec["js"],
               "js0_mean": spec["js_mean"], "js0_mean_stderr": spec["js_mean_stderr"],
               "spectra": spec["blocks"], "runs": {}}
        for name, opt, lr, extra in (("sgd", "sgd", sgd_lr, {"momentum": 0.9}),
                                     ("adam", "adam", adam_lr, {})):
            m.params.data[:] = init
            r = train(m, opt, steps=steps, lr=lr, **extra)
            r["optimizer"].close()
            out["runs"][name] = r["losses"]
    return out
