/*
 * steepest's compiled loops.
 *
 * Each function is the NumPy code it replaces (named above it), written as
 * one loop: the same operations in the same order, in the buffers' own
 * precision, so that its results are bitwise those of NumPy (a NaN may carry
 * another payload). The build turns off floating-point contraction (no fused
 * multiply-add) and fast math; the tests compare every function with its
 * NumPy code.
 *
 * This file is compiled once per precision: `real` is float or double,
 * SQRT its square root, and KERNEL(name) appends _f32 or _f64 to the name
 * (see kernels.py). Every array is 1-D, contiguous, of length n, and no two
 * overlap. A flag is an int, 0 or 1. With `l2` set, the gradient used is
 * theta * wd + g, as Optimizer._update_blocks forms it.
 */

/* SGD._update without momentum: theta <- theta - lr g */
void KERNEL(sgd)(int64_t n, real *restrict theta, const real *restrict g,
                 int l2, real wd, real lr)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        theta[i] = theta[i] - gi * lr;
    }
}

/* SGD._update, velocity form: v <- beta v - lr g, then
 * theta <- theta + v, or for Nesterov theta <- theta - lr g + beta v. */
void KERNEL(sgd_velocity)(int64_t n, real *restrict theta,
                          const real *restrict g, real *restrict v, int l2,
                          real wd, real lr, real beta, int nesterov)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        real step = gi * lr;
        real vi = v[i] * beta - step;
        v[i] = vi;
        theta[i] = nesterov ? (theta[i] - step) + vi * beta : theta[i] + vi;
    }
}

/* SGD._update, trace form: b <- beta b + g, then theta <- theta - lr b, or
 * for Nesterov theta <- theta - lr (beta b + g). */
void KERNEL(sgd_trace)(int64_t n, real *restrict theta, const real *restrict g,
                       real *restrict b, int l2, real wd, real lr, real beta,
                       int nesterov)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        real bi = b[i] * beta + gi;
        b[i] = bi;
        theta[i] = theta[i] - (nesterov ? bi * beta + gi : bi) * lr;
    }
}

/* Adagrad._update: r <- r + g^2; theta <- theta - lr g / (sqrt(r + eps_root)
 * + eps). */
void KERNEL(adagrad)(int64_t n, real *restrict theta, const real *restrict g,
                     real *restrict r, int l2, real wd, real eps_root,
                     real eps, real lr)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        real ri = r[i] + gi * gi;
        r[i] = ri;
        theta[i] = theta[i] - (gi / (SQRT(ri + eps_root) + eps)) * lr;
    }
}

/* RMSprop._update. m is read only when centered; mode is 0 without
 * momentum, 1 for the velocity form and 2 for the trace form (v holds b).
 * The loop is written once and inlined for each (centered, mode) below, so
 * that every copy has no branch and touches only its own arrays, which is
 * what lets the compiler vectorize it. */
static inline __attribute__((always_inline)) void KERNEL(rmsprop_loop)(
    int64_t n, real *restrict theta, const real *restrict g, real *restrict r,
    real *restrict m, real *restrict v, int l2, real wd, real beta,
    real one_beta, real eps_root, real eps, real lr, real mu, int centered,
    int mode)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        real ri = r[i] * beta + (gi * gi) * one_beta;
        real d;
        r[i] = ri;
        if (centered) {
            real mi = m[i] * beta + gi * one_beta;
            real var;
            m[i] = mi;
            var = ri - mi * mi;
            /* np.maximum(var, 0): nan stays nan, -0 becomes +0 */
            d = (var > 0 || var != var ? var : (real)0) + eps_root;
        } else {
            d = ri + eps_root;
        }
        real step = gi / (SQRT(d) + eps);
        if (mode == 1) {
            real vi = v[i] * mu - step * lr;
            v[i] = vi;
            theta[i] = theta[i] + vi;
        } else if (mode == 2) {
            real bi = v[i] * mu + step;
            v[i] = bi;
            theta[i] = theta[i] - bi * lr;
        } else {
            theta[i] = theta[i] - step * lr;
        }
    }
}

/* An array a configuration does not use is scratch, left alone. */
void KERNEL(rmsprop)(int64_t n, real *restrict theta, const real *restrict g,
                     real *restrict r, real *restrict m, real *restrict v,
                     int l2, real wd, real beta, real one_beta, real eps_root,
                     real eps, real lr, real mu, int centered, int mode)
{
#define RMSPROP_CASE(C, M)                                                  \
    KERNEL(rmsprop_loop)(n, theta, g, r, m, v, l2, wd, beta, one_beta,      \
                         eps_root, eps, lr, mu, C, M)
    if (centered) {
        if (mode == 1) RMSPROP_CASE(1, 1);
        else if (mode == 2) RMSPROP_CASE(1, 2);
        else RMSPROP_CASE(1, 0);
    } else {
        if (mode == 1) RMSPROP_CASE(0, 1);
        else if (mode == 2) RMSPROP_CASE(0, 2);
        else RMSPROP_CASE(0, 0);
    }
#undef RMSPROP_CASE
}

/* Adam._update, the bias corrections folded into root, outer and step_size:
 * s <- beta1 s + (1 - beta1) g; r <- beta2 r + (1 - beta2) g^2;
 * theta <- theta - step_size s / (sqrt(r + root) + outer); with
 * `decoupled` (AdamW) theta is first multiplied by `decay`. */
void KERNEL(adam)(int64_t n, real *restrict theta, const real *restrict g,
                  real *restrict s, real *restrict r, int l2, real wd,
                  real beta1, real one_beta1, real beta2, real one_beta2,
                  real root, real outer, real step_size, int decoupled,
                  real decay)
{
    for (int64_t i = 0; i < n; i++) {
        real gi = l2 ? theta[i] * wd + g[i] : g[i];
        real si = s[i] * beta1 + gi * one_beta1;
        real ri = r[i] * beta2 + (gi * gi) * one_beta2;
        s[i] = si;
        r[i] = ri;
        real step = (si / (SQRT(ri + root) + outer)) * step_size;
        real ti = decoupled ? theta[i] * decay : theta[i];
        theta[i] = ti - step;
    }
}

/* Optimizer._flush_subnormals on one buffer: values with |x| < tiny, the
 * smallest normal number, become 0 (nan is kept). */
void KERNEL(flush_subnormals)(int64_t n, real *restrict x, real tiny)
{
    for (int64_t i = 0; i < n; i++) {
        real xi = x[i];
        x[i] = (xi < tiny && xi > -tiny) ? (real)0 : xi;
    }
}

/* ops.linear's forward after the matrix product, with a bias and ReLU:
 * out += bias (a row vector, per column); np.maximum(out, 0, out=out).
 * out is rows x cols, row-major. */
void KERNEL(bias_relu)(int64_t rows, real *restrict out,
                       const real *restrict bias, int cols)
{
    for (int64_t r = 0; r < rows; r++) {
        real *row = out + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            real v = row[c] + bias[c];
            /* np.maximum(v, 0): nan stays nan, -0 becomes +0 */
            row[c] = (v > 0 || v != v) ? v : (real)0;
        }
    }
}

/* ops.linear's backward through ReLU: dst = g * (out > 0), the mask a 0 or 1
 * in the gradient's precision (so inf * 0 is nan, as in NumPy). */
void KERNEL(relu_grad)(int64_t n, real *restrict dst, const real *restrict g,
                       const real *restrict out)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = g[i] * (real)(out[i] > 0);
}
