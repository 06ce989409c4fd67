"""Plotting helpers: matplotlib is optional (skips, with the sanctioned reason, without it)."""
import numpy as np
import pytest

from conftest import optional


def test_plot_module_imports_without_matplotlib():
    from hessblock import plot
    assert isinstance(plot.available(), bool)


def test_densities_js_curves(tmp_path):
    optional("matplotlib")
    from hessblock import plot
    grid = np.linspace(-1, 5, 50)
    d1 = np.exp(-grid ** 2)
    ax = plot.densities(grid, {"a": d1, "b": 2 * d1}, logy=True, title="t")
    assert len(ax.lines) == 2
    plot.save(ax, tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 0

    class FakeSpectrum:
        def density(self, g):
            return np.ones_like(g)

    assert len(plot.densities(grid, {"s": FakeSpectrum()}).lines) == 1
    M = np.array([[0, 0.3], [0.3, 0]])
    ax = plot.js_matrix(M, ["x", "y"])
    assert len(ax.texts) == 4
    plot.save(ax, tmp_path / "js.png")
    ax = plot.curves({"train": [3, 2, 1], "val": ([0, 2], [3, 1.5])}, logy=True)
    assert len(ax.lines) == 2
    plot.save(ax, tmp_path / "c.svg")
    with pytest.raises(ValueError):
        plot.js_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        plot.js_matrix(M, ["only one"])
    with pytest.raises(ValueError):
        plot.densities(grid, {"bad": np.zeros(3)})


def test_import_does_not_load_matplotlib():
    import os
    import subprocess
    import sys
    import hessblock
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(hessblock.__file__)))
    r = subprocess.run([sys.executable, "-c", "import sys, hessblock; hessblock.plot; "
                        "print('matplotlib' in sys.modules)"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
