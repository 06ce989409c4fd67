/* Convolution by im2col + gemm, forward / backward / R-pass side by side.
 *
 * Per sample n, with col(x_n) the (Cin·K·K, So·So) matrix of input patches
 * (col[(c·K + ky)·K + kx, oy·So + ox] = x_n[c, oy + ky − P, ox + kx − P], 0 outside) and
 * W viewed as (Cout, Cin·K·K):
 *   y_n   = W·col(x_n) + b·1ᵀ
 *   dx_n  = col2im(Wᵀ·dy_n)        dW = Σ_n dy_n·col(x_n)ᵀ        db = Σ_n dy_n·1
 * R-pass (bilinear in (x, W) plus b):
 *   Ry_n  = W·col(Rx_n) + RW·col(x_n) + Rb·1ᵀ
 *   Rdx_n = col2im(Wᵀ·Rdy_n + RWᵀ·dy_n)
 *   RdW   = Σ_n Rdy_n·col(x_n)ᵀ + dy_n·col(Rx_n)ᵀ          Rdb = Σ_n Rdy_n·1
 * col2im is the adjoint of im2col (adds every patch entry back to its pixel). col(x_n) is
 * built once per sample and reused by all k directions. */
#include "nn/conv2d.h"

#include <string.h>

#include "kernels/kernels.h"

#define ES(dt) ((int64_t)hb_dtype_size(dt))
#define AT(p, dt, off) ((const char *)(p) + (int64_t)(off) * ES(dt))
#define ATW(p, dt, off) ((char *)(p) + (int64_t)(off) * ES(dt))

typedef struct dims {
    int64_t So, P2, ckk, in_sz, out_sz; /* So², Cin·K·K, per-sample sizes */
} dims;

static dims dims_of(const hb__conv2d_shape *s) {
    dims d;
    d.So = hb__conv2d_out_side(s);
    d.P2 = d.So * d.So;
    d.ckk = s->Cin * s->K * s->K;
    d.in_sz = s->Cin * s->S * s->S;
    d.out_sz = s->Cout * d.P2;
    return d;
}

static double ld(hb_dtype dt, const void *p, int64_t i) {
    return dt == HB_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* col = im2col(x) and dx += col2im(col) for one sample, per dtype. For each patch row
 * (c, ky, kx) and output row oy, the valid output columns [ox0, ox1) (those whose input
 * column ox + kx − P lies inside the image) are a contiguous copy; the rest is padding. */
#define DEFINE_COL(T, SUF)                                                                    \
    static void im2col_##SUF(const hb__conv2d_shape *s, const dims *d, const T *x, T *col) {  \
        int64_t Sd = s->S, K = s->K, P = s->P, So = d->So;                                  \
        for (int64_t c = 0; c < s->Cin; c++)                                                \
            for (int64_t ky = 0; ky < K; ky++)                                              \
                for (int64_t kx = 0; kx < K; kx++) {                                        \
                    T *row = col + ((c * K + ky) * K + kx) * d->P2;                         \
                    int64_t ox0 = P - kx > 0 ? P - kx : 0;                                  \
                    int64_t ox1 = Sd + P - kx < So ? Sd + P - kx : So;                      \
                    if (ox1 < ox0) ox1 = ox0;                                               \
                    for (int64_t oy = 0; oy < So; oy++) {                                   \
                        int64_t iy = oy + ky - P;                                           \
                        T *o = row + oy * So;                                               \
                        if (iy < 0 || iy >= Sd) {                                           \
                            for (int64_t ox = 0; ox < So; ox++) o[ox] = 0;                  \
                            continue;                                                       \
                        }                                                                   \
                        const T *xi = x + (c * Sd + iy) * Sd + kx - P;                      \
                        for (int64_t ox = 0; ox < ox0; ox++) o[ox] = 0;                     \
                        for (int64_t ox = ox0; ox < ox1; ox++) o[ox] = xi[ox];              \
                        for (int64_t ox = ox1; ox < So; ox++) o[ox] = 0;                    \
                    }                                                                       \
                }                                                                           \
    }                                                                                       \
    static void col2im_##SUF(const hb__conv2d_shape *s, const dims *d, const T *col, T *dx) { \
        int64_t Sd = s->S, K = s->K, P = s->P, So = d->So;                                  \
        for (int64_t c = 0; c < s->Cin; c++)                                                \
            for (int64_t ky = 0; ky < K; ky++)                                              \
                for (int64_t kx = 0; kx < K; kx++) {                                        \
                    const T *row = col + ((c * K + ky) * K + kx) * d->P2;                   \
                    int64_t ox0 = P - kx > 0 ? P - kx : 0;                                  \
                    int64_t ox1 = Sd + P - kx < So ? Sd + P - kx : So;                      \
                    for (int64_t oy = 0; oy < So; oy++) {                                   \
                        int64_t iy = oy + ky - P;                                           \
                        if (iy < 0 || iy >= Sd) continue;                                   \
                        T *xi = dx + (c * Sd + iy) * Sd + kx - P;                           \
                        const T *o = row + oy * So;                                         \
                        for (int64_t ox = ox0; ox < ox1; ox++) xi[ox] += o[ox];             \
                    }                                                                       \
                }                                                                           \
    }
DEFINE_COL(float, f32)
DEFINE_COL(double, f64)

static void im2col(hb_dtype dt, const hb__conv2d_shape *s, const dims *d, const void *x, void *col) {
    if (dt == HB_F64) im2col_f64(s, d, x, col);
    else im2col_f32(s, d, x, col);
}

static void col2im_add(hb_dtype dt, const hb__conv2d_shape *s, const dims *d, const void *col, void *dx) {
    if (dt == HB_F64) col2im_f64(s, d, col, dx);
    else col2im_f32(s, d, col, dx);
}

/* y (Cout, P2) += b per channel */
static void add_bias(hb_dtype dt, int64_t Cout, int64_t P2, const void *b, void *y) {
    for (int64_t c = 0; c < Cout; c++) {
        double bc = ld(dt, b, c);
        for (int64_t p = 0; p < P2; p++) {
            if (dt == HB_F64) ((double *)y)[c * P2 + p] += bc;
            else ((float *)y)[c * P2 + p] += (float)bc;
        }
    }
}

/* db[c] += Σ_p dy[c, p] */
static void add_rowsum(hb_dtype dt, int64_t Cout, int64_t P2, const void *dy, void *db) {
    for (int64_t c = 0; c < Cout; c++) {
        double s = 0;
        for (int64_t p = 0; p < P2; p++) s += ld(dt, dy, c * P2 + p);
        if (dt == HB_F64) ((double *)db)[c] += s;
        else ((float *)db)[c] += (float)s;
    }
}

static int check(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "conv2d needs f32 or f64");
    HB_CHECK(ctx, s->N >= 1 && s->Cin >= 1 && s->Cout >= 1 && s->K >= 1 && s->P >= 0 &&
                      s->P < s->K && hb__conv2d_out_side(s) >= 1,
             HB_ESHAPE, "bad conv2d shape");
    return HB_OK;
}

/* Two im2col-sized scratch buffers. */
static void *scratch(hb_context *ctx, hb_dtype dt, const dims *d, int n) {
    return hb__malloc(ctx, (size_t)(n * d->ckk * d->P2 * ES(dt)), "im2col buffer");
}

int hb__conv2d_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, const void *x,
                       const void *W, const void *b, void *y) {
    HB_TRY(check(ctx, dt, s));
    dims d = dims_of(s);
    void *col = scratch(ctx, dt, &d, 1);
    if (!col) return HB_ENOMEM;
    int rc = HB_OK;
    for (int64_t n = 0; n < s->N && rc == HB_OK; n++) {
        im2col(dt, s, &d, AT(x, dt, n * d.in_sz), col);
        void *yn = ATW(y, dt, n * d.out_sz);
        rc = hb__gemm(ctx, dt, false, false, s->Cout, d.P2, d.ckk, 1.0, W, d.ckk, col, d.P2, 0.0, yn, d.P2);
        if (rc == HB_OK && b) add_bias(dt, s->Cout, d.P2, b, yn);
    }
    hb__free(ctx, col);
    return rc;
}

int hb__conv2d_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, const void *x,
                        const void *W, const void *dy, void *dx, void *dW, void *db) {
    HB_TRY(check(ctx, dt, s));
    dims d = dims_of(s);
    char *col = scratch(ctx, dt, &d, 2);
    if (!col) return HB_ENOMEM;
    char *dcol = col + d.ckk * d.P2 * ES(dt);
    int rc = HB_OK;
    for (int64_t n = 0; n < s->N && rc == HB_OK; n++) {
        const void *dyn = AT(dy, dt, n * d.out_sz);
        if (dW) {
            im2col(dt, s, &d, AT(x, dt, n * d.in_sz), col);
            rc = hb__gemm(ctx, dt, false, true, s->Cout, d.ckk, d.P2, 1.0, dyn, d.P2, col, d.P2, 1.0,
                          dW, d.ckk);
        }
        if (rc == HB_OK && dx) {
            rc = hb__gemm(ctx, dt, true, false, d.ckk, d.P2, s->Cout, 1.0, W, d.ckk, dyn, d.P2, 0.0,
                          dcol, d.P2);
            if (rc == HB_OK) col2im_add(dt, s, &d, dcol, ATW(dx, dt, n * d.in_sz));
        }
        if (db) add_rowsum(dt, s->Cout, d.P2, dyn, db);
    }
    hb__free(ctx, col);
    return rc;
}

int hb__conv2d_rop_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, int64_t k,
                           const void *x, const void *W, const void *Rx, const void *RW,
                           const void *Rb, void *Ry) {
    HB_TRY(check(ctx, dt, s));
    dims d = dims_of(s);
    char *col = scratch(ctx, dt, &d, 2);
    if (!col) return HB_ENOMEM;
    char *rcol = col + d.ckk * d.P2 * ES(dt);
    int64_t wsz = s->Cout * d.ckk;
    int rc = HB_OK;
    for (int64_t n = 0; n < s->N && rc == HB_OK; n++) {
        if (RW) im2col(dt, s, &d, AT(x, dt, n * d.in_sz), col);
        for (int64_t j = 0; j < k && rc == HB_OK; j++) {
            void *Ryn = ATW(Ry, dt, (j * s->N + n) * d.out_sz);
            double beta = 0.0;
            if (RW) {
                rc = hb__gemm(ctx, dt, false, false, s->Cout, d.P2, d.ckk, 1.0, AT(RW, dt, j * wsz), d.ckk,
                              col, d.P2, 0.0, Ryn, d.P2);
                beta = 1.0;
            }
            if (rc == HB_OK && Rx) {
                im2col(dt, s, &d, AT(Rx, dt, (j * s->N + n) * d.in_sz), rcol);
                rc = hb__gemm(ctx, dt, false, false, s->Cout, d.P2, d.ckk, 1.0, W, d.ckk, rcol, d.P2,
                              beta, Ryn, d.P2);
                beta = 1.0;
            }
            if (rc == HB_OK && beta == 0.0) /* no direction at all: Ry = 0 before the bias */
                memset(Ryn, 0, (size_t)(d.out_sz * ES(dt)));
            if (rc == HB_OK && Rb) add_bias(dt, s->Cout, d.P2, AT(Rb, dt, j * s->Cout), Ryn);
        }
    }
    hb__free(ctx, col);
    return rc;
}

int hb__conv2d_rop_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, int64_t k,
                            const void *x, const void *W, const void *dy, const void *Rx,
                            const void *RW, const void *Rdy, void *Rdx, void *RdW, void *Rdb) {
    HB_TRY(check(ctx, dt, s));
    dims d = dims_of(s);
    char *col = scratch(ctx, dt, &d, 2);
    if (!col) return HB_ENOMEM;
    char *tmp = col + d.ckk * d.P2 * ES(dt);
    int64_t wsz = s->Cout * d.ckk;
    int rc = HB_OK;
    for (int64_t n = 0; n < s->N && rc == HB_OK; n++) {
        const void *dyn = AT(dy, dt, n * d.out_sz);
        if (RdW) im2col(dt, s, &d, AT(x, dt, n * d.in_sz), col);
        for (int64_t j = 0; j < k && rc == HB_OK; j++) {
            const void *Rdyn = AT(Rdy, dt, (j * s->N + n) * d.out_sz);
            if (RdW) {
                void *RdWj = ATW(RdW, dt, j * wsz);
                rc = hb__gemm(ctx, dt, false, true, s->Cout, d.ckk, d.P2, 1.0, Rdyn, d.P2, col, d.P2, 1.0,
                              RdWj, d.ckk);
                if (rc == HB_OK && Rx) {
                    im2col(dt, s, &d, AT(Rx, dt, (j * s->N + n) * d.in_sz), tmp);
                    rc = hb__gemm(ctx, dt, false, true, s->Cout, d.ckk, d.P2, 1.0, dyn, d.P2, tmp, d.P2,
                                  1.0, RdWj, d.ckk);
                }
            }
            if (rc == HB_OK && Rdx) {
                rc = hb__gemm(ctx, dt, true, false, d.ckk, d.P2, s->Cout, 1.0, W, d.ckk, Rdyn, d.P2, 0.0,
                              tmp, d.P2);
                if (rc == HB_OK && RW)
                    rc = hb__gemm(ctx, dt, true, false, d.ckk, d.P2, s->Cout, 1.0, AT(RW, dt, j * wsz),
                                  d.ckk, dyn, d.P2, 1.0, tmp, d.P2);
                if (rc == HB_OK) col2im_add(dt, s, &d, tmp, ATW(Rdx, dt, (j * s->N + n) * d.in_sz));
            }
            if (Rdb) add_rowsum(dt, s->Cout, d.P2, Rdyn, ATW(Rdb, dt, j * s->Cout));
        }
    }
    hb__free(ctx, col);
    return rc;
}
