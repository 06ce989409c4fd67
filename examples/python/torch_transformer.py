#!/usr/bin/env python3
"""Per-block Hessian spectra and JS⁰ of a small PyTorch transformer on a text file.

A byte-level causal transformer (torch.nn.TransformerEncoder, 2 layers, width 32) at its
initialisation, on micro-batches of a text file (default: the GPL-3 text Debian ships in
/usr/share/common-licenses). libhessblock sees it through hessblock.torch: one block per
parameter (the packed Q/K/V projection split into attn_q/attn_k/attn_v blocks), SLQ per
block, and the Jensen-Shannon matrix between block spectra; its mean at initialisation is
JS⁰ (docs/spectral.md). The analysis itself is the dozen lines of main() after the data.

Run:  PYTHONPATH=bindings/python /usr/bin/python3 examples/python/torch_transformer.py \
          [--text FILE] [--probes 4] [--steps 16] [--plot out]
Exits 77 (a skip for meson) when torch is not installed.
"""
import argparse
import sys

try:
    import torch
except ImportError:
    print("skipped: torch is not installed (hessblock.torch needs it)")
    sys.exit(77)

import hessblock as hb

VOCAB, CONTEXT, WIDTH, HEADS, LAYERS = 256, 32, 32, 4, 2


class ByteTransformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = torch.nn.Embedding(VOCAB, WIDTH)
        self.pos = torch.nn.Embedding(CONTEXT, WIDTH)
        layer = torch.nn.TransformerEncoderLayer(WIDTH, HEADS, 4 * WIDTH, dropout=0.0,
                                                 batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.ln_f = torch.nn.LayerNorm(WIDTH)
        self.lm_head = torch.nn.Linear(WIDTH, VOCAB, bias=False)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(CONTEXT))

    def forward(self, x):
        h = self.tok(x) + self.pos(torch.arange(x.shape[1]))
        h = self.blocks(h, mask=self.mask[:x.shape[1], :x.shape[1]])
        return self.lm_head(self.ln_f(h)).reshape(-1, VOCAB)


def text_batches(path, n_batches, batch):
    data = torch.tensor(list(open(path, "rb").read()), dtype=torch.long)
    starts = torch.arange(n_batches * batch) * CONTEXT % (len(data) - CONTEXT - 1)
    seqs = torch.stack([data[s:s + CONTEXT + 1] for s in starts])
    return [(seqs[i:i + batch, :-1], seqs[i:i + batch, 1:].reshape(-1))
            for i in range(0, len(seqs), batch)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--probes", type=int, default=4)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--plot", help="path prefix of the figures (needs matplotlib)")
    args = ap.parse_args()

    torch.manual_seed(0)
    net = ByteTransformer().double()        # f64 for the analysis; .float() works too
    data = text_batches(args.text, args.batches, batch=8)
    r = hb.torch.heterogeneity(net, torch.nn.functional.cross_entropy, data,
                               probes=args.probes, steps=args.steps, plot=args.plot)
    with r["model"] as model:
        print("%s: n = %d parameters, %d blocks, loss %.4f" % (
            type(net).__name__, model.n, len(r["names"]), model.loss()))
        print("%-44s %-9s %6s %11s %11s %11s" % ("block", "kind", "size", "lam_min", "lam_max",
                                               "trace"))
        for nm in r["names"]:
            lo, hi = r["spectra"][nm].extremes()
            print("%-44s %-9s %6d %11.3e %11.3e %11.3e" % (
                nm, r["kinds"][nm].name.lower(), model.params.block_info(nm).numel, lo, hi,
                r["traces"][nm][0]))
        print("JS0 (mean Jensen-Shannon distance between block spectra): %.4f raw, %.4f with "
              "each spectrum scaled by its max |lambda|" % (r["js_mean"], r["js_mean_normalized"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
