/* custom_net: a transformer none of the built-ins has (RMSNorm, SiLU MLP, 3 layers), built
 * with the network builder; its exact HVP checked against a finite difference of
 * gradients, then per-block Hessian spectra and JS⁰ (mean JS distance between blocks). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <hessblock/hessblock.h>
#include <hessblock/net.h>

#define TRY(call) do { int rc_ = (call); if (rc_ != HB_OK) { fprintf(stderr, "%s: %s (%s)\n", \
    #call, hb_strerror(rc_), hb_context_last_error(ctx)); goto done; } } while (0)
enum { V = 16, T = 8, C = 16, LAYERS = 3, N = 4 };

int main(void) {
    hb_context *ctx = NULL; hb_net *net = NULL; hb_model *m = NULL; hb_slq *slq = NULL;
    hb_tensor *x = NULL, *y = NULL, *v = NULL, *hv = NULL;
    double *fd = NULL; int status = 1;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    TRY(hb_context_set_i64(ctx, HB_CTX_SEED, 7));
    TRY(hb_net_create(ctx, HB_F64, &net));
    TRY(hb_net_input_tokens(net, "tokens", T, V));
    TRY(hb_net_embedding(net, "wte", "tokens", "e", C));
    TRY(hb_net_pos_embedding(net, "wpe", "e", "x0"));
    char in[16] = "x0", a[16], o[16], m1[16], b[16], h[16], s[16], f[16], nm[32];
    for (int l = 0; l < LAYERS; l++) {   /* x ← x + attn(rms(x)); x ← x + W2·silu(W1·rms(x)) */
#define NM(buf, fmt) snprintf(buf, sizeof buf, fmt, l)
        NM(a, "a%d"), NM(o, "o%d"), NM(m1, "m%d"), NM(b, "b%d"), NM(h, "h%d"), NM(s, "s%d");
        NM(f, "f%d"), NM(nm, "h.%d.norm1");
        TRY(hb_net_rmsnorm(net, nm, in, a, 0));
        NM(nm, "h.%d.attn"); TRY(hb_net_attention(net, nm, a, o, 2, 0));
        TRY(hb_net_add(net, in, o, m1));
        NM(nm, "h.%d.norm2"); TRY(hb_net_rmsnorm(net, nm, m1, b, 0));
        NM(nm, "h.%d.mlp.up"); TRY(hb_net_linear(net, nm, b, h, 3 * C, 0, HB_BLOCK_MLP_IN));
        TRY(hb_net_activation(net, HB_ACT_SILU, h, s));
        NM(nm, "h.%d.mlp.down"); TRY(hb_net_linear(net, nm, s, f, C, 0, HB_BLOCK_MLP_OUT));
        snprintf(in, sizeof in, "x%d", l + 1); TRY(hb_net_add(net, m1, f, in));
    }
    TRY(hb_net_rmsnorm(net, "norm_f", in, "z", 0));
    TRY(hb_net_linear(net, "lm_head", "z", "logits", V, 0, HB_BLOCK_HEAD));
    TRY(hb_net_loss_xent(net, "logits"));
    TRY(hb_model_create_net(net, &m));
    /* data: token t+1 = (3·token t + 1) mod V, random starts */
    int64_t shape[2] = {N, T};
    TRY(hb_tensor_create(ctx, HB_I32, 2, shape, &x));
    TRY(hb_tensor_create(ctx, HB_I32, 2, shape, &y));
    int32_t *xi = hb_tensor_data(x), *yi = hb_tensor_data(y);
    for (int i = 0; i < N; i++)
        for (int t = 0, tok = (5 * i + 2) % V; t < T; t++, tok = (3 * tok + 1) % V)
            xi[i * T + t] = tok, yi[i * T + t] = (3 * tok + 1) % V;
    TRY(hb_model_set_batch(m, x, y));
    /* exact H·v against (∇L(θ+εv) − ∇L(θ−εv))/2ε */
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p); int64_t nn = (int64_t)n;
    TRY(hb_tensor_create(ctx, HB_F64, 1, &nn, &v));
    TRY(hb_tensor_create(ctx, HB_F64, 1, &nn, &hv));
    double *vd = hb_tensor_data(v), *th = hb_params_data(p), *g = hb_params_grad(p), loss;
    for (size_t i = 0; i < n; i++) vd[i] = sin(1.0 + (double)i);
    TRY(hb_model_hvp(m, v, hv));
    const double eps = 1e-5, *hd = hb_tensor_data(hv);
    double err = 0, ref = 0, gp;
    for (size_t i = 0; i < n; i++) th[i] += eps * vd[i];
    TRY(hb_model_loss_grad(m, &loss));
    if (!(fd = calloc(n, sizeof *fd))) goto done;
    for (size_t i = 0; i < n; i++) fd[i] = g[i], th[i] -= 2 * eps * vd[i];
    TRY(hb_model_loss_grad(m, &loss));
    for (size_t i = 0; i < n; i++)
        th[i] += eps * vd[i], gp = (fd[i] - g[i]) / (2 * eps), err = fmax(err, fabs(gp - hd[i])),
        ref = fmax(ref, fabs(hd[i]));
    printf("%zu parameters; exact H·v vs finite difference: max error %.2e, max |H·v| %.2e\n", n, err, ref);
    double js0;
    TRY(hb_slq_create(ctx, &slq));
    TRY(hb_slq_block_heterogeneity(slq, m, NULL, NULL, NULL, &js0));
    printf("per-block spectra of %zu blocks: JS0 = %.4f\n", hb_params_num_blocks(p), js0);
    status = err <= 1e-6 * ref ? 0 : 1;
done:
    free(fd); hb_tensor_free(x); hb_tensor_free(y); hb_tensor_free(v); hb_tensor_free(hv);
    hb_slq_free(slq); hb_model_free(m); hb_net_free(net); hb_context_free(ctx);
    return status;
}
