"""The documented thread model (core.h, docs/api.md, docs/python.md): a context and
everything created from it are used by one thread at a time; distinct contexts may be
used concurrently. Here: one context per thread, running at the same time (ctypes
releases the GIL), give exactly the results of the same work done sequentially."""
import threading

import numpy as np


def _work(hb, seed):
    """Model init, training steps and SLQ spectra, all drawing on the context's RNG."""
    with hb.Context(seed=seed) as ctx:
        m = hb.Model(ctx, "mlp", inputs=4, width=6, layers=1, classes=3, batch=16)
        m.set_synthetic(n_batches=2)
        opt = hb.Optimizer(ctx, "adam", m.params, lr=1e-2)
        losses = []
        for _ in range(5):
            loss, _ = m.loss_grad()
            opt.step()
            losses.append(loss)
        with hb.SLQ(ctx, probes=3, steps=8) as slq:
            spectra, js, mean = slq.block_heterogeneity(m)
            nodes = [spectra[n].nodes_weights()[0].copy() for n in sorted(spectra)]
        return np.array(losses), m.params.data.copy(), js.copy(), nodes


def test_distinct_contexts_run_concurrently(hb):
    seeds = [11, 12, 13, 14]
    expected = [_work(hb, s) for s in seeds]
    results, errors = [None] * len(seeds), []
    start = threading.Barrier(len(seeds))

    def run(i):
        try:
            start.wait()
            for _ in range(3):          # several rounds so the threads overlap
                results[i] = _work(hb, seeds[i])
        except BaseException as e:      # reported below, with its thread
            errors.append((i, e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
        for a, b in zip(got[3], want[3]):
            np.testing.assert_array_equal(a, b)
