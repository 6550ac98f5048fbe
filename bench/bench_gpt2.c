/* GPT-2 124M-shaped benchmark: prompt-processing and generation speed with
 * 1 and 2 threads, f32 and f16 weights, beside the memory-bandwidth limit
 * for one generated token and the speed OpenBLAS sgemm alone allows for
 * the prompt's products.
 *
 * The weights are random (real GPT-2 layout and sizes: 12 layers, 12 heads,
 * n_embd 768, n_positions 1024, vocabulary 50257) and written once with the
 * .maas writer to build/cache/gpt2-124m-random-{f32,f16}.maas (about 650
 * and 330 MB, outside git).  Speed does not depend on the values.
 *
 *   build/bench/bench_gpt2 [--csv FILE] [--threads 1,2] [--quick]
 *   build/bench/bench_gpt2 --ggml-out DIR
 *
 * Results go to stdout as a table; --csv also writes them for
 * bench/plot_gpt2.py.  --ggml-out only writes the same weights in the file
 * format of ggml's examples/gpt-2, for the peer comparison. */
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "maas.h"

#define N_LAYER 12
#define N_HEAD 12
#define N_EMBD 768
#define N_POS 1024
#define N_VOCAB 50257
#define N_INNER (4 * N_EMBD)
#define PROMPT_TOKENS 128
#define NEW_TOKENS 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- random weights in the GPT-2 layout ------------------------------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

/* Uniform in [-a, a) (xorshift64*; speed, not quality, matters here). */
static float uniform(float a)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dULL;
    return a * ((float)(r >> 40) * 0x1p-23f - 1.0f);
}

typedef struct weight_set {
    char names[16 * N_LAYER + 8][48];
    void *data[16 * N_LAYER + 8];
    int n;
} weight_set;

/* Adds a tensor of random values; 2-D tensors become f16 when f16 is set,
 * as `maas-convert --dtype f16` stores them. */
static int add_tensor(maas_writer *w, weight_set *ws, const char *name,
                      int rows, int cols, float scale, float offset, bool f16)
{
    bool matrix = cols > 0;
    size_t n = (size_t)rows * (size_t)(matrix ? cols : 1);
    bool half = f16 && matrix;
    void *data = malloc(n * (half ? 2 : 4));
    if (!data)
        return -1;
    for (size_t i = 0; i < n; i++) {
        float v = offset + uniform(scale);
        if (half)
            ((uint16_t *)data)[i] = maas_f32_to_f16(v);
        else
            ((float *)data)[i] = v;
    }
    maas_tensor t;
    int64_t shape[2] = {rows, cols};
    maas_tensor_init(&t, half ? MAAS_DTYPE_F16 : MAAS_DTYPE_F32, matrix ? 2 : 1,
                     shape, data);
    snprintf(ws->names[ws->n], sizeof ws->names[0], "%s", name);
    ws->data[ws->n++] = data;
    return maas_writer_add_tensor(w, ws->names[ws->n - 1], &t) == MAAS_OK ? 0 : -1;
}

static int write_random_model(const char *path, bool f16)
{
    maas_writer *w;
    if (maas_writer_create("gpt2", &w) != MAAS_OK)
        return -1;
    weight_set *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -1;
    maas_writer_set_u32(w, "n_layer", N_LAYER);
    maas_writer_set_u32(w, "n_head", N_HEAD);
    maas_writer_set_u32(w, "n_embd", N_EMBD);
    maas_writer_set_u32(w, "n_positions", N_POS);
    maas_writer_set_u32(w, "vocab_size", N_VOCAB);
    maas_writer_set_u32(w, "n_inner", N_INNER);
    maas_writer_set_u32(w, "eos_token_id", N_VOCAB - 1);
    maas_writer_set_f32(w, "layer_norm_epsilon", 1e-5f);
    maas_writer_set_str(w, "activation_function", "gelu_new");

    /* The file order of a converted checkpoint: embeddings, blocks, ln_f. */
    const float s = 0.035f;  /* uniform(+-0.035) has GPT-2's std 0.02 */
    int rc = add_tensor(w, ws, "wte.weight", N_VOCAB, N_EMBD, s, 0, f16) |
             add_tensor(w, ws, "wpe.weight", N_POS, N_EMBD, s / 2, 0, f16);
    const struct {
        const char *suffix;
        int rows, cols;       /* cols 0: a vector */
        float scale, offset;
    } parts[] = {
        {"ln_1.weight", N_EMBD, 0, 0.1f, 1.0f},
        {"ln_1.bias", N_EMBD, 0, 0.02f, 0.0f},
        {"attn.c_attn.weight", 3 * N_EMBD, N_EMBD, s, 0.0f},
        {"attn.c_attn.bias", 3 * N_EMBD, 0, 0.02f, 0.0f},
        {"attn.c_proj.weight", N_EMBD, N_EMBD, s, 0.0f},
        {"attn.c_proj.bias", N_EMBD, 0, 0.02f, 0.0f},
        {"ln_2.weight", N_EMBD, 0, 0.1f, 1.0f},
        {"ln_2.bias", N_EMBD, 0, 0.02f, 0.0f},
        {"mlp.c_fc.weight", N_INNER, N_EMBD, s, 0.0f},
        {"mlp.c_fc.bias", N_INNER, 0, 0.02f, 0.0f},
        {"mlp.c_proj.weight", N_EMBD, N_INNER, s, 0.0f},
        {"mlp.c_proj.bias", N_EMBD, 0, 0.02f, 0.0f},
    };
    for (int l = 0; l < N_LAYER && rc == 0; l++)
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            char n[48];
            snprintf(n, sizeof n, "h.%d.%s", l, parts[k].suffix);
            rc |= add_tensor(w, ws, n, parts[k].rows, parts[k].cols,
                             parts[k].scale, parts[k].offset, f16);
        }
    rc |= add_tensor(w, ws, "ln_f.weight", N_EMBD, 0, 0.1f, 1.0f, f16);
    rc |= add_tensor(w, ws, "ln_f.bias", N_EMBD, 0, 0.02f, 0.0f, f16);
    if (rc == 0 && maas_writer_write(w, path, NULL, NULL) != MAAS_OK)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "bench_gpt2: cannot write %s: %s\n", path,
                maas_last_error());
    for (int i = 0; i < ws->n; i++)
        free(ws->data[i]);
    free(ws);
    maas_writer_free(w);
    return rc;
}

/* ---- the same weights for ggml's examples/gpt-2 --------------------------------- */

static int write_i32(FILE *fp, int32_t v)
{
    return fwrite(&v, sizeof v, 1, fp) == 1 ? 0 : -1;
}

/* Names of ggml's gpt-2 example for our tensor names ("h.3.attn.c_attn.weight"
 * becomes "model/h3/attn/c_attn/w"). */
static void ggml_name(const char *name, char *out, size_t cap)
{
    int layer;
    char part[64];
    if (!strcmp(name, "wte.weight"))
        snprintf(out, cap, "model/wte");
    else if (!strcmp(name, "wpe.weight"))
        snprintf(out, cap, "model/wpe");
    else if (!strncmp(name, "ln_f.", 5))
        snprintf(out, cap, "model/ln_f/%s", strcmp(name + 5, "weight") ? "b" : "g");
    else if (sscanf(name, "h.%d.%63s", &layer, part) == 2) {
        char *last = strrchr(part, '.');
        const char *kind = !strcmp(last + 1, "bias") ? "b"
                         : !strncmp(part, "ln_", 3) ? "g" : "w";
        *last = '\0';
        for (char *c = part; *c; c++)
            if (*c == '.')
                *c = '/';
        snprintf(out, cap, "model/h%d/%s/%s", layer, part, kind);
    } else {
        snprintf(out, cap, "%s", name);
    }
}

/* Writes a .maas GPT-2 in the file format of ggml's examples/gpt-2 (magic,
 * hyperparameters, vocabulary, then each tensor with its dims innermost
 * first).  Weight matrices keep their dtype, except that the example wants
 * wpe in f32.  The vocabulary is the 256 bytes plus filler tokens, so a
 * prompt of 128 letters is 128 tokens there too. */
static int export_ggml(const char *maas_path, const char *out_path, bool f16)
{
    maas_file *f;
    if (maas_file_open(maas_path, &f) != MAAS_OK) {
        fprintf(stderr, "bench_gpt2: %s\n", maas_last_error());
        return -1;
    }
    FILE *fp = fopen(out_path, "wb");
    if (!fp) {
        fprintf(stderr, "bench_gpt2: cannot write %s: %s\n", out_path,
                strerror(errno));
        maas_file_close(f);
        return -1;
    }
    int rc = write_i32(fp, 0x67676d6c) | write_i32(fp, N_VOCAB) |
             write_i32(fp, N_POS) | write_i32(fp, N_EMBD) |
             write_i32(fp, N_HEAD) | write_i32(fp, N_LAYER) |
             write_i32(fp, f16 ? 1 : 0) | write_i32(fp, N_VOCAB);
    for (int i = 0; i < N_VOCAB && rc == 0; i++) {
        char token[16];
        int len = i < 256 ? 1 : snprintf(token, sizeof token, "<%d>", i);
        if (i < 256)
            token[0] = (char)i;
        rc = write_i32(fp, len) | (fwrite(token, 1, (size_t)len, fp) == (size_t)len ? 0 : -1);
    }

    float *row = malloc(N_EMBD * sizeof *row);
    for (uint32_t i = 0; i < maas_file_tensor_count(f) && rc == 0 && row; i++) {
        maas_tensor t;
        char name[96];
        maas_file_tensor_at(f, i, &t);
        ggml_name(maas_file_tensor_name(f, i), name, sizeof name);
        bool to_f32 = !strcmp(name, "model/wpe") && t.dtype == MAAS_DTYPE_F16;
        rc |= write_i32(fp, t.n_dims) | write_i32(fp, (int32_t)strlen(name)) |
              write_i32(fp, to_f32 || t.dtype == MAAS_DTYPE_F32 ? 0 : 1);
        for (int d = t.n_dims - 1; d >= 0; d--)
            rc |= write_i32(fp, (int32_t)t.shape[d]);
        rc |= fwrite(name, 1, strlen(name), fp) == strlen(name) ? 0 : -1;
        if (to_f32) {
            for (int64_t r = 0; r < t.shape[0] && rc == 0; r++) {
                maas_convert_to_f32(row, (const uint16_t *)t.data + r * N_EMBD,
                                    MAAS_DTYPE_F16, N_EMBD);
                rc |= fwrite(row, sizeof *row, N_EMBD, fp) == N_EMBD ? 0 : -1;
            }
        } else {
            size_t bytes = maas_tensor_nbytes(&t);
            rc |= fwrite(t.data, 1, bytes, fp) == bytes ? 0 : -1;
        }
    }
    if (!row)
        rc = -1;
    free(row);
    if (fclose(fp) != 0)
        rc = -1;
    maas_file_close(f);
    if (rc != 0)
        fprintf(stderr, "bench_gpt2: writing %s failed\n", out_path);
    return rc;
}

/* ---- memory bandwidth ---------------------------------------------------------------- */

/* Read bandwidth in bytes/s: the best of five passes summing a 512 MiB
 * buffer, split over n_threads. */
static double read_bandwidth(int n_threads)
{
    const size_t n = (512u << 20) / sizeof(uint64_t);
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        uint64_t total = 0;
        double t0 = now();
#pragma omp parallel for num_threads(n_threads) reduction(^ : total) schedule(static)
        for (size_t i = 0; i < n; i++)
            total ^= buf[i];
        double t = now() - t0;
        sink ^= total;
        if (t < best)
            best = t;
    }
    (void)sink;
    free(buf);
    return (double)(n * sizeof(uint64_t)) / best;
}

/* ---- sgemm alone ----------------------------------------------------------------------- */

/* Tokens/s that the prompt pass's four products per layer would reach if
 * they were all it did: OpenBLAS sgemm with the rows split over n_threads
 * as libmaas splits them (each thread a single-threaded sgemm). */
static double sgemm_prompt_rate(int n_threads, int reps)
{
    const int M = PROMPT_TOKENS;
    const int shapes[4][2] = {  /* {K, N} of out[M,N] = in[M,K] . w[N,K]^T */
        {N_EMBD, 3 * N_EMBD}, {N_EMBD, N_EMBD}, {N_EMBD, N_INNER},
        {N_INNER, N_EMBD},
    };
    float *a = malloc((size_t)M * N_INNER * sizeof *a);
    float *w = malloc((size_t)N_INNER * N_EMBD * sizeof *w);
    float *c = malloc((size_t)M * N_INNER * sizeof *c);
    if (!a || !w || !c)
        return 0.0;
    for (size_t i = 0; i < (size_t)M * N_INNER; i++)
        a[i] = uniform(1.0f);
    for (size_t i = 0; i < (size_t)N_INNER * N_EMBD; i++)
        w[i] = uniform(0.03f);

    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int l = 0; l < N_LAYER; l++)
            for (int s = 0; s < 4; s++) {
                const int K = shapes[s][0], N = shapes[s][1];
#pragma omp parallel num_threads(n_threads)
                {
                    int t = omp_get_thread_num(), nt = omp_get_num_threads();
                    int m0 = M * t / nt, m1 = M * (t + 1) / nt;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                                m1 - m0, N, K, 1.0f, a + (size_t)m0 * K, K, w,
                                K, 0.0f, c + (size_t)m0 * N, N);
                }
            }
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    free(a);
    free(w);
    free(c);
    return M / best;
}

/* ---- the model ----------------------------------------------------------------------------- */

typedef struct result {
    const char *dtype;
    int threads;
    double prompt_rate, gen_rate, sgemm_rate, bandwidth, limit_rate;
    size_t bytes_per_token;
} result;

static int run_model(const char *path, const char *dtype, int n_threads,
                     int reps, result *out)
{
    maas_gpt2 *model;
    if (maas_gpt2_open(path, &model) != MAAS_OK) {
        fprintf(stderr, "bench_gpt2: %s\n", maas_last_error());
        return -1;
    }
    maas_gpt2_context_params cp;
    maas_gpt2_context_params_default(&cp);
    cp.n_threads = n_threads;
    cp.n_ctx = PROMPT_TOKENS + NEW_TOKENS + 1;
    maas_gpt2_context *ctx;
    if (maas_gpt2_context_create(model, &cp, &ctx) != MAAS_OK) {
        fprintf(stderr, "bench_gpt2: %s\n", maas_last_error());
        maas_gpt2_free(model);
        return -1;
    }
    int32_t prompt[PROMPT_TOKENS];
    for (int i = 0; i < PROMPT_TOKENS; i++)
        prompt[i] = (int32_t)((i * 7919 + 13) % N_VOCAB);

    /* Prompt: one batched pass over 128 tokens, best of `reps` (after a
     * warm-up pass that also faults the mapped weights in). */
    double best_prompt = 1e30;
    for (int r = 0; r <= reps; r++) {
        maas_gpt2_context_reset(ctx);
        double t0 = now();
        if (maas_gpt2_eval(ctx, prompt, PROMPT_TOKENS, NULL) != MAAS_OK) {
            fprintf(stderr, "bench_gpt2: %s\n", maas_last_error());
            return -1;
        }
        double t = now() - t0;
        if (r > 0 && t < best_prompt)
            best_prompt = t;
    }

    /* Generation: 64 greedy tokens after the prompt, best of `reps`; the
     * rate counts the 63 decoding steps between the first and last token. */
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    gp.sampling.temperature = 0.0f;
    gp.max_new_tokens = NEW_TOKENS;
    gp.ignore_eos = true;
    double best_gen = 1e30;
    for (int r = 0; r < reps; r++) {
        maas_gpt2_generate_result res;
        if (maas_gpt2_generate_tokens(ctx, prompt, PROMPT_TOKENS, &gp, &res) != MAAS_OK) {
            fprintf(stderr, "bench_gpt2: %s\n", maas_last_error());
            return -1;
        }
        double per_step = res.generate_seconds / (res.n_generated - 1);
        if (per_step < best_gen)
            best_gen = per_step;
    }

    out->dtype = dtype;
    out->threads = n_threads;
    out->prompt_rate = PROMPT_TOKENS / best_prompt;
    out->gen_rate = 1.0 / best_gen;
    out->bytes_per_token = maas_gpt2_weight_bytes_per_token(model);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
    return 0;
}

static int ensure_model(const char *path, bool f16)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    fprintf(stderr, "bench_gpt2: writing random GPT-2 124M weights to %s ...\n",
            path);
    return write_random_model(path, f16);
}

int main(int argc, char **argv)
{
    const char *csv_path = NULL, *ggml_dir = NULL;
    int thread_counts[2] = {1, 2}, n_counts = 2, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv_path = argv[++i];
        } else if (!strcmp(argv[i], "--ggml-out") && i + 1 < argc) {
            ggml_dir = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            reps = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_counts = sscanf(argv[++i], "%d,%d", &thread_counts[0],
                              &thread_counts[1]);
            if (n_counts < 1 || thread_counts[0] < 1 ||
                (n_counts == 2 && thread_counts[1] < 1)) {
                fprintf(stderr, "bench_gpt2: --threads expects N or N,M\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_gpt2 [--csv FILE] [--threads N[,M]] "
                    "[--quick] [--ggml-out DIR]\n");
            return 2;
        }
    }
    mkdir("build", 0755);
    mkdir("build/cache", 0755);
    const char *paths[2] = {"build/cache/gpt2-124m-random-f32.maas",
                            "build/cache/gpt2-124m-random-f16.maas"};
    const char *dtypes[2] = {"f32", "f16"};
    for (int d = 0; d < 2; d++)
        if (ensure_model(paths[d], d == 1) != 0)
            return 1;
    if (ggml_dir) {
        /* Only export: the peer is timed by bench/peers_gpt2.sh. */
        for (int d = 0; d < 2; d++) {
            char out[512];
            snprintf(out, sizeof out, "%s/gpt2-124m-random-%s.bin", ggml_dir,
                     dtypes[d]);
            if (export_ggml(paths[d], out, d == 1) != 0)
                return 1;
            printf("wrote %s\n", out);
        }
        return 0;
    }

    printf("GPT-2 124M-shaped random weights: prompt %d tokens, %d new tokens "
           "(greedy), %s kernels, best of %d\n", PROMPT_TOKENS, NEW_TOKENS,
           maas_isa_name(maas_kernels_isa()), reps);
    printf("%-5s %7s %12s %12s %12s %10s %9s %12s %8s\n", "dtype", "threads",
           "prompt tok/s", "sgemm tok/s", "gen tok/s", "MB/token", "GB/s",
           "limit tok/s", "of limit");
    result results[4];
    int n_results = 0;
    for (int t = 0; t < n_counts; t++) {
        double bw = read_bandwidth(thread_counts[t]);
        double sgemm = sgemm_prompt_rate(thread_counts[t], reps);
        for (int d = 0; d < 2; d++) {
            result *r = &results[n_results];
            if (run_model(paths[d], dtypes[d], thread_counts[t], reps, r) != 0)
                return 1;
            r->bandwidth = bw;
            r->sgemm_rate = sgemm;
            r->limit_rate = bw / (double)r->bytes_per_token;
            printf("%-5s %7d %12.1f %12.1f %12.2f %10.1f %9.2f %12.2f %7.0f%%\n",
                   r->dtype, r->threads, r->prompt_rate, r->sgemm_rate,
                   r->gen_rate, r->bytes_per_token / 1e6, bw / 1e9,
                   r->limit_rate, 100.0 * r->gen_rate / r->limit_rate);
            fflush(stdout);
            n_results++;
        }
    }
    printf("sgemm tok/s: OpenBLAS sgemm alone on the prompt's 48 products "
           "(f32 weights).\nlimit tok/s: measured read bandwidth / weight "
           "bytes read per token.\n");

    if (csv_path) {
        FILE *fp = fopen(csv_path, "w");
        if (!fp) {
            fprintf(stderr, "bench_gpt2: cannot write %s: %s\n", csv_path,
                    strerror(errno));
            return 1;
        }
        fprintf(fp, "engine,dtype,threads,prompt_tok_s,gen_tok_s,sgemm_tok_s,"
                "bandwidth_gb_s,limit_tok_s\n");
        for (int i = 0; i < n_results; i++)
            fprintf(fp, "libmaas,%s,%d,%.2f,%.3f,%.2f,%.3f,%.3f\n",
                    results[i].dtype, results[i].threads,
                    results[i].prompt_rate, results[i].gen_rate,
                    results[i].sgemm_rate, results[i].bandwidth / 1e9,
                    results[i].limit_rate);
        fclose(fp);
    }
    return 0;
}
