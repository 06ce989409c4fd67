"""hb_checkpoint_info (format 2.1): a built-in model's checkpoint records how to rebuild it."""
import numpy as np
import pytest

import hessblock as hb


def test_model_section_round_trip(tmp_path):
    ctx = hb.Context(seed=11)
    m = hb.Model(ctx, "mlp", inputs=3, width=5, layers=1, classes=2, batch=4)
    path = str(tmp_path / "m.ckpt")
    hb.checkpoint.save(path, m.params)
    info = hb.CheckpointInfo.read(ctx, path)
    assert info[hb.CheckpointKey.VERSION_MINOR] == 1
    assert info["has_model"] == 1 and info["model_seed"] == 11
    assert info["model_kind"] == hb.ModelKind.MLP
    assert info["data"] == hb.CheckpointData.SYNTHETIC
    assert info.get("step") is None            # no optimizer state
    cfg = info.model_config()
    assert cfg["width"] == 5 and cfg["inputs"] == 3
    ctx2 = hb.Context(seed=info["model_seed"])
    m2 = hb.Model(ctx2, cfg)
    np.testing.assert_array_equal(m2.params.data, m.params.data)   # same initialisation
    # params of no model: format 2.0, no model section
    p = hb.Params(ctx)
    p.add_block("a", (2,))
    p.finalize()
    info2 = hb.CheckpointInfo.from_bytes(ctx, hb.checkpoint.to_bytes(p))
    assert info2["has_model"] == 0 and info2.model_config() is None
    with pytest.raises(hb.NotFound):
        info2["model_seed"]
    with pytest.raises(TypeError):
        hb.CheckpointInfo(ctx, 1234)
