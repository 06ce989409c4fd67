"""Trainer and SST/LoRA wrappers through the bindings (the C suites test the numerics)."""
import numpy as np
import pytest

import hessblock as hb


def _mlp(ctx):
    return hb.Model(ctx, "mlp", dtype="f64", inputs=8, width=6, classes=3, batch=8)


def test_trainer_gd_records():
    with hb.Context(seed=1) as ctx:
        m = _mlp(ctx)
        tr = hb.Trainer(m, None, lr=0.1, eval_every=5)
        assert tr["lr"] == 0.1
        tr.run(10)
        assert tr.step == 10 and len(tr) == 10
        loss = tr.records("loss")
        assert loss.shape == (10,) and np.all(np.isfinite(loss))
        ev = tr.records("eval_loss")
        assert np.isfinite(ev[4]) and np.isfinite(ev[9]) and np.isnan(ev[0])
        assert tr.record(3, hb.RecordKey.LR) == 0.1
        assert tr.block_norm(0, 0) > 0
        with pytest.raises(hb.InvalidArgument):
            tr.run(0)


def test_sst_and_lora_wrappers():
    with hb.Context(seed=2) as ctx:
        m = _mlp(ctx)
        m.set_synthetic(1, 0, 0)
        dense = m.loss()
        w = hb.SSTModel(m, "spectral", kinds=["linear"], rank=2, iteration=5)
        w.set_synthetic(1, 0, 0)
        assert abs(w.loss() - dense) <= 1e-12 * max(1, abs(dense))
        assert w.method == hb.SSTMethod.SPECTRAL
        layers = w.layers()
        assert len(layers) == 2 and layers[0][0] == "layers.0.weight"
        assert len(w.active(0)) == 2
        opt = hb.Optimizer(ctx, "adam", w.params, lr=1e-2)
        tr = hb.Trainer(w, opt)
        tr.run(12)
        assert 0 < w.trainable_count()
        lw = hb.SSTModel(m, "lora", blocks=["layers.1.weight"], rank=2)
        assert lw.method == hb.SSTMethod.LORA
        with pytest.raises(hb.InvalidArgument):
            lw.resvd()
        assert hb.train.is_wrapper(lw) and not hb.train.is_wrapper(m)
