#!/usr/bin/env python3
"""Analyse the Hessian of a model written in numpy, block by block, with libhessblock.

The model is a 2-layer network (tanh hidden layer, softmax cross-entropy) on a synthetic
Gaussian-mixture classification problem. Its loss and gradient are plain numpy, and so is
an exact Hessian-vector product (Pearlmutter's R-operator, written out below). libhessblock
sees it as a callback model with four PyTorch-style blocks (fc1.weight, fc1.bias,
fc2.weight, fc2.bias) over one flat parameter vector, and gives per-block Hessians.

Printed per block: size, trace, λ_min, λ_max, fraction of negative eigenvalues (dense
sub-blocks H_bb from block HVPs: the model is small), and the Jensen-Shannon distance
matrix between block spectra (Gaussian-smoothed eigenvalue densities on a shared grid after
scaling each spectrum by its own largest |λ|). With the library's SLQ component, the JS
matrix is computed by the library, and SLQ estimates (hb_slq_block_heterogeneity) are
printed next to the exact values; without it, the same conventions are applied in numpy.
The exact numpy HVP is also checked against the library's finite-difference fallback
(the same objective without an hvp callback); the script exits 1 if they disagree.

Run:  PYTHONPATH=bindings/python HESSBLOCK_LIBRARY=build/lib/libhessblock.so \
      /usr/bin/python3 examples/python/analyze_numpy_model.py [--plot out.png]
"""
import argparse
import sys

import numpy as np

import hessblock as hb


class TwoLayerNet:
    def __init__(self, rng, n=64, d=8, hidden=16, classes=4):
        centers = rng.normal(scale=2.0, size=(classes, d))
        self.y = rng.integers(0, classes, size=n)
        self.X = centers[self.y] + rng.normal(size=(n, d))
        self.Y = np.eye(classes)[self.y]
        self.shapes = [("fc1.weight", (hidden, d), "linear"), ("fc1.bias", (hidden,), "bias"),
                       ("fc2.weight", (classes, hidden), "head"), ("fc2.bias", (classes,), "bias")]
        self.sizes = [int(np.prod(s)) for _, s, _ in self.shapes]

    def unpack(self, flat):
        parts = np.split(flat, np.cumsum(self.sizes)[:-1])
        return [p.reshape(s) for p, (_, s, _) in zip(parts, self.shapes)]

    def _forward(self, th):
        W1, b1, W2, b2 = self.unpack(th)
        A = np.tanh(self.X @ W1.T + b1)
        Z2 = A @ W2.T + b2
        Z2 = Z2 - Z2.max(axis=1, keepdims=True)
        P = np.exp(Z2)
        P /= P.sum(axis=1, keepdims=True)
        return W1, W2, A, P

    def loss_grad(self, th):
        W1, W2, A, P = self._forward(th)
        N = len(self.X)
        loss = -np.mean(np.log(P[np.arange(N), self.y]))
        dZ2 = (P - self.Y) / N
        dZ1 = (dZ2 @ W2) * (1 - A * A)
        g = [dZ1.T @ self.X, dZ1.sum(0), dZ2.T @ A, dZ2.sum(0)]
        return loss, np.concatenate([x.ravel() for x in g])

    def hvp(self, th, v):
        """Exact H·v by the R-operator: R{·} is the directional derivative along v."""
        W1, W2, A, P = self._forward(th)
        V1, c1, V2, c2 = self.unpack(v)
        N = len(self.X)
        dZ2 = (P - self.Y) / N
        dA = dZ2 @ W2
        S = 1 - A * A                                   # tanh'
        RA = S * (self.X @ V1.T + c1)                   # R{A}
        RZ2 = RA @ W2.T + A @ V2.T + c2                 # R{Z2}
        RdZ2 = P * (RZ2 - (P * RZ2).sum(1, keepdims=True)) / N   # R{softmax}/N
        RdZ1 = (RdZ2 @ W2 + dZ2 @ V2) * S - 2 * dA * A * RA      # R{dA·S}
        g = [RdZ1.T @ self.X, RdZ1.sum(0), RdZ2.T @ A + dZ2.T @ RA, RdZ2.sum(0)]
        return np.concatenate([x.ravel() for x in g])


def js_distance(p, q):
    """Jensen-Shannon distance (base 2, in [0, 1]) between two discrete densities."""
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return np.sum(a[nz] * np.log2(a[nz] / b[nz]))
    return float(np.sqrt(max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))))


def js_matrix_numpy(spectra, grid_points=1024, sigma_rel=0.01):
    """The library's JS convention (docs/spectral.md) in numpy, for exact eigenvalues:
    scale each spectrum by its max |lambda|, one linear grid over the pooled range
    widened by 5 sigma, sigma = sigma_rel * range, Gaussian-smoothed densities normalised
    to sum 1, base-2 JS distance."""
    scaled = [e / np.abs(e).max() for e in spectra]
    lo, hi = min(e.min() for e in scaled), max(e.max() for e in scaled)
    sigma = sigma_rel * (hi - lo)
    grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, grid_points)
    dens = []
    for e in scaled:
        d = np.exp(-0.5 * ((grid[:, None] - e[None, :]) / sigma) ** 2).sum(1)
        dens.append(d / d.sum())
    k = len(spectra)
    return np.array([[js_distance(dens[i], dens[j]) for j in range(k)] for i in range(k)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", help="save densities and the JS matrix to this image (matplotlib)")
    ap.add_argument("--train-steps", type=int, default=50, help="gradient steps before analysing")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    net = TwoLayerNet(rng)
    with hb.Context(seed=0) as ctx:
        model = hb.Model.from_callbacks(ctx, [s for s in net.shapes], net.loss_grad, net.hvp)
        fd = hb.Model.from_callbacks(ctx, [s for s in net.shapes], net.loss_grad)
        params = model.params
        for b in params.blocks:     # PyTorch's nn.Linear initialisation, from the library's RNG
            fan_in = params.block_info(b.index - 1).shape[1] if b.kind == hb.BlockKind.BIAS else b.shape[1]
            params.init_block(b.index, "torch_linear_bias" if b.kind == hb.BlockKind.BIAS
                              else "torch_linear", fan_in)
        theta = params.data          # zero-copy: training writes straight into the library
        loss0 = model.loss()
        for _ in range(args.train_steps):
            loss, grad = model.loss_grad()
            theta -= 0.5 * grad
        loss = model.loss()
        print("model: 2-layer tanh network, n = %d parameters, %d blocks, %d samples"
              % (params.count, params.num_blocks, len(net.X)))
        print("loss: %.4f at init, %.4f after %d GD steps" % (loss0, loss, args.train_steps))

        # exact numpy HVP vs the library's finite-difference fallback
        fd.params.data[:] = theta
        v = rng.normal(size=params.count)
        hv, hv_fd = model.hvp(v), fd.hvp(v)
        rel = np.abs(hv - hv_fd).max() / np.abs(hv).max()
        print("exact HVP vs finite differences: max relative difference %.2e" % rel)

        # per-block principal sub-blocks H_bb (dense: the model is small; block_hvp of e_i)
        H = model.hessian()
        print("full Hessian: symmetric to %.1e, trace %.4f, lambda in [%.4f, %.4f]" % (
            np.abs(H - H.T).max(), np.trace(H), *np.linalg.eigvalsh(H)[[0, -1]]))
        print("\n%-12s %6s %10s %10s %10s %8s" % ("block", "size", "trace", "lam_min",
                                                  "lam_max", "neg"))
        spectra = {}
        for b in params.blocks:
            Hb = model.hessian(b.name)
            e = np.linalg.eigvalsh(0.5 * (Hb + Hb.T))
            spectra[b.name] = e
            print("%-12s %6d %10.4f %10.4f %10.4f %7.1f%%" % (b.name, b.numel, np.trace(Hb), e[0],
                                                            e[-1], 100 * np.mean(e < -1e-12)))
        names = list(spectra)
        if "slq" in hb.components:
            # The library's conventions (docs/spectral.md): each spectrum scaled by its max
            # |lambda|, Gaussian smoothing on one shared grid, base-2 JS distance.
            exact = []
            for nm in names:
                sp = hb.Spectrum(ctx, len(spectra[nm]))
                sp.add_probe(spectra[nm], np.ones(len(spectra[nm])))
                exact.append(sp)
            M, mean = hb.js_matrix(exact, normalize=True)
            with hb.SLQ(ctx, probes=8, steps=30) as slq:
                est, M_slq, mean_slq = slq.block_heterogeneity(model, normalize=True)
            print("\nSLQ (8 probes, 30 steps) per block: lambda range vs the dense one")
            for nm in names:
                lo, hi = est[nm].extremes()
                print("%-12s [%9.4f, %9.4f]   dense [%9.4f, %9.4f]" % (
                    nm, lo, hi, spectra[nm][0], spectra[nm][-1]))
            print("mean off-diagonal JS distance: exact spectra %.3f, SLQ estimate %.3f"
                  % (mean, mean_slq))
            # cross-check of the library's JS against the numpy transcription of its
            # convention: same grid and smoothing, so only rounding differs (1e-9)
            M_np = js_matrix_numpy([spectra[nm] for nm in names])
            js_diff = np.abs(M - M_np).max()
            print("library JS vs numpy transcription: max difference %.2e" % js_diff)
            if not js_diff < 1e-9:
                print("FAIL: the library's JS distance disagrees with numpy", file=sys.stderr)
                return 1
        else:
            # Fallback without the SLQ component: the same convention in numpy.
            M = js_matrix_numpy([spectra[nm] for nm in names])
            mean = M[~np.eye(len(names), dtype=bool)].mean()
        grid = np.linspace(-1.05, 1.05, 400)
        dens = {}
        for nm, e in spectra.items():
            d = np.exp(-0.5 * ((grid[:, None] - e[None, :] / np.abs(e).max()) / 0.02) ** 2).sum(1)
            dens[nm] = d / (d.sum() * (grid[1] - grid[0]))
        print("\nJensen-Shannon distance between block spectra (each scaled by its max |lambda|):")
        print(" " * 12 + "".join("%12s" % n for n in names))
        for n, row in zip(names, M):
            print("%-12s" % n + "".join("%12.3f" % x for x in row))
        print("mean off-diagonal JS distance: %.3f" % mean)

        if args.plot:
            from hessblock import plot
            ax = plot.densities(grid, dens, title="block spectra (scaled)")
            plot.save(ax, args.plot)
            ax = plot.js_matrix(M, names)
            plot.save(ax, args.plot.rsplit(".", 1)[0] + "_js." + args.plot.rsplit(".", 1)[-1])
            print("plots written next to", args.plot)

    # Central differences: ≈1e-10 relative for a smooth objective (model.h); 1e-6 flags a
    # wrong R-operator (errors there are O(1)) without tripping on rounding.
    if not rel < 1e-6:
        print("FAIL: the exact HVP disagrees with finite differences", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
