"""Plotting helpers (matplotlib is optional: imported only when a function is called).

    from hessblock import plot
    ax = plot.densities(grid, {"h.0.attn.wq": d0, "h.0.mlp.c_fc": d1})
    ax = plot.js_matrix(M, names)
    ax = plot.curves({"train": losses, "val": (steps, val_losses)})

Each function draws on `ax` (a new figure when None) and returns the axes. Inputs are
plain numpy arrays; objects with a `density(grid)` method (a Spectrum) are accepted by
`densities` too.
"""
import numpy as np


def available():
    """True when matplotlib can be imported."""
    try:
        _mpl()
        return True
    except ImportError:
        return False


def _mpl():
    try:
        import matplotlib
        if matplotlib.get_backend().lower() not in ("agg",) and not _has_display():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("hessblock.plot needs matplotlib (Debian: apt-get install "
                          "python3-matplotlib): %s" % e) from None
    return plt


def _has_display():
    import os
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _axes(ax):
    if ax is not None:
        return ax
    plt = _mpl()
    _, ax = plt.subplots()
    return ax


def densities(grid, series, ax=None, logy=False, title=None):
    """Plot spectral densities on a shared grid. series: {label: density array or an
    object with .density(grid)} or a single array."""
    grid = np.asarray(grid, dtype=float)
    ax = _axes(ax)
    if not isinstance(series, dict):
        series = {None: series}
    for label, d in series.items():
        y = d.density(grid) if hasattr(d, "density") else np.asarray(d, dtype=float)
        if y.shape != grid.shape:
            raise ValueError("density for %r has shape %s, grid %s" % (label, y.shape, grid.shape))
        ax.plot(grid, y, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    if any(k is not None for k in series):
        ax.legend(fontsize="small")
    return ax


def js_matrix(matrix, labels=None, ax=None, title="Jensen-Shannon distance", annotate=None):
    """Heat map of a square matrix of JS distances in [0, 1] with a colour bar."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError("js_matrix needs a square matrix, got shape %s" % (m.shape,))
    ax = _axes(ax)
    im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.figure.colorbar(im, ax=ax)
    if labels is not None:
        if len(labels) != m.shape[0]:
            raise ValueError("%d labels for a %dx%d matrix" % (len(labels), *m.shape))
        ax.set_xticks(range(len(labels)))
        ax.set_yticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=90, fontsize="x-small")
        ax.set_yticklabels(labels, fontsize="x-small")
    if annotate is None:
        annotate = m.shape[0] <= 12
    if annotate:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, "%.2f" % m[i, j], ha="center", va="center", fontsize="xx-small",
                        color="white" if m[i, j] < 0.5 else "black")
    if title:
        ax.set_title(title)
    return ax


def curves(series, ax=None, logy=False, xlabel="step", ylabel="loss", title=None):
    """Line plot of curves: {label: ys or (xs, ys)}."""
    ax = _axes(ax)
    for label, s in series.items():
        if isinstance(s, tuple) and len(s) == 2:
            xs, ys = np.asarray(s[0]), np.asarray(s[1])
        else:
            ys = np.asarray(s)
            xs = np.arange(len(ys))
        ax.plot(xs, ys, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def save(ax, path, dpi=120):
    """Save the figure of `ax` to path and close it."""
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _mpl().close(fig)
