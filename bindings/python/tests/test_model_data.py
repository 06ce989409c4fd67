"""Reading a model's micro-batches back (Model.batch, hb_model_batch_shape/_copy), and
the CLI's data re-derived from docs/cli.md "How the CLI makes its data" (issue 12.5)."""
import json
import os
import subprocess

import numpy as np
import pytest

import hessblock as hb


def test_batches_round_trip(ctx):
    rng = np.random.default_rng(5)
    with hb.Model(ctx, "mlp", inputs=3, width=4, layers=1, classes=2, batch=2) as m:
        X0, y0 = rng.normal(size=(4, 3)), np.array([0, 1, 1, 0], dtype=np.int32)
        X1, y1 = rng.normal(size=(2, 3)), np.array([1, 1], dtype=np.int32)
        m.set_batch(X0, y0)
        m.add_batch(X1, y1)
        assert m.num_batches == 2
        for i, (X, y) in enumerate(((X0, y0), (X1, y1))):
            xi, yi = m.batch(i)
            assert xi.dtype == np.float64 and yi.dtype == np.int32
            np.testing.assert_array_equal(xi, X)
            np.testing.assert_array_equal(yi, y)
        xi[0, 0] = 99.0  # a copy: the model's data is not touched
        assert m.batch(1)[0][0, 0] == X1[0, 0]
        with pytest.raises(hb.RangeError) as e:
            m.batch(2)
        assert "micro-batch 2" in e.value.message and "holds 2" in e.value.message
        with pytest.raises(hb.RangeError):
            m.batch(-1)
        with pytest.raises(hb.InvalidArgument):
            m.batch(1.0)


def test_gpt_and_cnn_batches_have_the_documented_shapes(ctx):
    with hb.Model(ctx, "gpt", vocab=7, context=4, width=8, heads=2, layers=1, batch=3) as g:
        x, y = g.batch(0)
        assert x.shape == (3, 4) and y.shape == (3, 4) and x.dtype == y.dtype == np.int32
        assert x.min() >= 0 and x.max() < 7
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets are the next tokens
    with hb.Model(ctx, "cnn", image_size=4, channels=1, conv_width=2, conv_stages=1, classes=2,
                  batch=3, dtype="f32") as c:
        x, y = c.batch(0)
        assert x.shape == (3, 1, 4, 4) and x.dtype == np.float32 and y.shape == (3,)


def test_quadratic_holds_no_batch(ctx):
    with hb.Model(ctx, "quadratic") as q:
        assert q.num_batches == 0
        with pytest.raises(hb.RangeError):
            q.batch(0)


# The CLI's model options for `train`, and the same sizes as library config keys.
CLI_CASES = {
    "mlp": (["--inputs", "8", "--width", "16", "--layers", "2", "--classes", "4", "--batch", "5",
             "--batches", "3"], dict(inputs=8, width=16, layers=2, classes=4, batch=5), 3),
    "gpt": (["--vocab", "16", "--context", "8", "--width", "16", "--heads", "2", "--layers", "1",
             "--batch", "4", "--batches", "2"],
            dict(vocab=16, context=8, width=16, heads=2, layers=1, batch=4), 2),
    "cnn": (["--image", "6", "--conv-width", "2", "--stages", "1", "--classes", "3", "--batch", "4",
             "--batches", "1"], dict(image_size=6, conv_width=2, conv_stages=1, classes=3, batch=4), 1),
}


def build_like_the_cli(seed, kind, sizes, batches):
    """docs/cli.md, "How the CLI makes its data", step by step."""
    ctx = hb.Context(seed=seed)                       # 1. context seed = --seed
    m = hb.Model(ctx, kind, dtype="f64", **sizes)     # 2. params + micro-batch (stream 0, first 0)
    if batches > 1:                                   # 3. more micro-batches: the next stream
        m.set_synthetic(batches, ctx.next_stream(), 0)
    return ctx, m


@pytest.mark.parametrize("kind", list(CLI_CASES))
def test_cli_data_rederived(kind):
    cli_args, sizes, batches = CLI_CASES[kind]
    seed = 7
    ctx, m = build_like_the_cli(seed, kind, sizes, batches)
    with ctx, m:
        B = sizes["batch"]
        assert m.num_batches == batches and m.num_samples == batches * B
        # micro-batch i is samples i·B … (i+1)·B − 1 of that stream: one batch drawn from
        # first = i·B alone is the same data
        stream = 0 if batches == 1 else None
        with hb.Context(seed=seed) as c2, hb.Model(c2, kind, dtype="f64", **sizes) as m2:
            if stream is None:
                stream = c2.next_stream()  # the same counter position as the CLI's
            for i in range(batches):
                m2.set_synthetic(1, stream, i * B)
                for a, b in zip(m.batch(i), m2.batch(0)):
                    np.testing.assert_array_equal(a, b)
        cli = os.environ.get("HESSBLOCK_CLI")
        if not cli:  # built with -Dtools=false: nothing to compare with
            return
        p = subprocess.run([cli, "train", "--model", kind, *cli_args, "--seed", str(seed),
                            "--steps", "1", "--json", "--quiet"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        run = json.loads(p.stdout)["run"]
        # the CLI prints 12 significant digits; same data and parameters give the same loss
        assert m.loss() == pytest.approx(run["initial_loss"], rel=1e-11, abs=0)
        # and another seed gives other data, so the match above is not a coincidence
        with hb.Context(seed=seed + 1) as c3, hb.Model(c3, kind, dtype="f64", **sizes) as m3:
            assert not np.array_equal(m3.batch(0)[0], m.batch(0)[0])
