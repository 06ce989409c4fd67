"""Cross-check against PyTorch's autograd Hessian-vector products (torch is optional)."""
import numpy as np

from conftest import optional


def test_hvp_matches_torch_autograd(ctx, rng):
    torch = optional("torch")
    import hessblock as hb
    X = torch.tensor(rng.normal(size=(20, 3)))
    y = torch.tensor(rng.integers(0, 4, size=20))
    shapes = [("fc1.weight", (5, 3)), ("fc1.bias", (5,)), ("fc2.weight", (4, 5)), ("fc2.bias", (4,))]
    sizes = [int(np.prod(s)) for _, s in shapes]

    def f(theta):
        parts = torch.split(theta, sizes)
        W1, b1, W2, b2 = (p.reshape(s) for p, (_, s) in zip(parts, shapes))
        h = torch.tanh(X @ W1.T + b1)
        return torch.nn.functional.cross_entropy(h @ W2.T + b2, y)

    def loss_grad(th):
        t = torch.tensor(np.array(th), requires_grad=True)
        loss = f(t)
        (g,) = torch.autograd.grad(loss, t)
        return float(loss), g.numpy()

    def hvp(th, v):
        _, hv = torch.autograd.functional.hvp(f, torch.tensor(np.array(th)), torch.tensor(np.array(v)))
        return hv.numpy()

    m_exact = hb.Model.from_callbacks(ctx, shapes, loss_grad, hvp)
    m_fd = hb.Model.from_callbacks(ctx, shapes, loss_grad)
    theta = rng.normal(size=sum(sizes)) * 0.5
    m_exact.params.data[:] = theta
    m_fd.params.data[:] = theta
    v = rng.normal(size=theta.size)
    ref = hvp(theta, v)
    np.testing.assert_allclose(m_exact.hvp(v), ref, rtol=1e-12, atol=1e-12)  # moved, not computed
    # central difference: ≈1e-10 relative (model.h); 1e-6 absolute on O(1) entries is slack
    np.testing.assert_allclose(m_fd.hvp(v), ref, rtol=0, atol=1e-6 * max(1, np.abs(ref).max()))
