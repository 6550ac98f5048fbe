/* Load time and memory of a GPT-2-124M-shaped .maas file.
 *
 *   build/bench/bench_load [PATH]
 *
 * Writes a random-weight file with GPT-2 124M's tensors (50257 x 768
 * embeddings, 12 layers, f32: about 500 MB) and a synthetic 50257-token
 * vocabulary with 50000 merges to PATH (default build/bench-gpt2-124m.maas)
 * unless a valid one is already there.  Then it measures, with the file in
 * the page cache:
 *   - open + validate + look up every tensor by name + close (the load);
 *   - the resident set size after opening and reading one tensor, which
 *     stays far below the file size because the file is mapped, not read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maas.h"

enum { V = 50257, P = 1024, C = 768, L = 12, F = 4 * C, MERGES = 50000, RUNS = 30 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Returns a field of /proc/self/status ("VmRSS", "RssFile") in kB, or -1. */
static long status_kb(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(fp);
    return kb;
}

/* The tensor names and shapes of GPT-2 124M in .maas layout. */
typedef struct spec {
    char name[48];
    int n_dims;
    int64_t shape[2];
} spec;

static int gpt2_specs(spec *out)
{
    int n = 0;
    out[n++] = (spec){"wte.weight", 2, {V, C}};
    out[n++] = (spec){"wpe.weight", 2, {P, C}};
    for (int i = 0; i < L; i++) {
        static const struct {
            const char *suffix;
            int n_dims;
            int64_t rows, cols;
        } layer[] = {
            {"ln_1.weight", 1, C, 0}, {"ln_1.bias", 1, C, 0},
            {"attn.c_attn.weight", 2, 3 * C, C}, {"attn.c_attn.bias", 1, 3 * C, 0},
            {"attn.c_proj.weight", 2, C, C}, {"attn.c_proj.bias", 1, C, 0},
            {"ln_2.weight", 1, C, 0}, {"ln_2.bias", 1, C, 0},
            {"mlp.c_fc.weight", 2, F, C}, {"mlp.c_fc.bias", 1, F, 0},
            {"mlp.c_proj.weight", 2, C, F}, {"mlp.c_proj.bias", 1, C, 0},
        };
        for (size_t k = 0; k < sizeof layer / sizeof layer[0]; k++) {
            spec *s = &out[n++];
            snprintf(s->name, sizeof s->name, "h.%d.%s", i, layer[k].suffix);
            s->n_dims = layer[k].n_dims;
            s->shape[0] = layer[k].rows;
            s->shape[1] = layer[k].cols;
        }
    }
    out[n++] = (spec){"ln_f.weight", 1, {C, 0}};
    out[n++] = (spec){"ln_f.bias", 1, {C, 0}};
    return n;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_load: %s: %s\n", what, maas_last_error());
    return 1;
}

/* Writes the random model.  Every tensor reads from one buffer of random
 * floats as large as the largest tensor, so memory stays at ~155 MB. */
static int write_model(const char *path, const spec *specs, int n)
{
    size_t max_elems = (size_t)V * C;
    float *noise = malloc(max_elems * sizeof *noise);
    if (!noise)
        return fail("allocating the random weights");
    uint32_t x = 12345;
    for (size_t i = 0; i < max_elems; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (float)(x >> 8) * 0x1p-24f * 0.04f - 0.02f;
    }

    /* Synthetic tokens and merges of GPT-2's counts and typical lengths. */
    char **tokens = malloc(V * sizeof *tokens), **merges = malloc(MERGES * sizeof *merges);
    for (int i = 0; i < V; i++) {
        tokens[i] = malloc(16);
        snprintf(tokens[i], 16, "\xc4\xa0tok%d", i);
    }
    for (int i = 0; i < MERGES; i++) {
        merges[i] = malloc(24);
        snprintf(merges[i], 24, "\xc4\xa0t%d ok%d", i, i);
    }

    maas_writer *w;
    maas_status s = maas_writer_create("gpt2", &w);
    s = s ? s : maas_writer_set_u32(w, "n_layer", L);
    s = s ? s : maas_writer_set_u32(w, "n_head", 12);
    s = s ? s : maas_writer_set_u32(w, "n_embd", C);
    s = s ? s : maas_writer_set_u32(w, "n_positions", P);
    s = s ? s : maas_writer_set_u32(w, "vocab_size", V);
    s = s ? s : maas_writer_set_u32(w, "n_inner", F);
    s = s ? s : maas_writer_set_f32(w, "layer_norm_epsilon", 1e-5f);
    s = s ? s : maas_writer_set_str(w, "activation_function", "gelu_new");
    s = s ? s : maas_writer_set_bool(w, "tie_word_embeddings", true);
    s = s ? s : maas_writer_set_str(w, "tokenizer.model", "gpt2-bpe");
    s = s ? s : maas_writer_set_str_array(w, "tokenizer.tokens", (const char *const *)tokens,
                                          NULL, V);
    s = s ? s : maas_writer_set_str_array(w, "tokenizer.merges", (const char *const *)merges,
                                          NULL, MERGES);
    for (int i = 0; i < n && s == MAAS_OK; i++) {
        maas_tensor t;
        s = maas_tensor_init(&t, MAAS_DTYPE_F32, specs[i].n_dims, specs[i].shape, noise);
        s = s ? s : maas_writer_add_tensor(w, specs[i].name, &t);
    }
    double t0 = now_ms();
    s = s ? s : maas_writer_write(w, path, NULL, NULL);
    if (s == MAAS_OK)
        printf("wrote %s in %.0f ms\n", path, now_ms() - t0);
    maas_writer_free(w);
    for (int i = 0; i < V; i++)
        free(tokens[i]);
    for (int i = 0; i < MERGES; i++)
        free(merges[i]);
    free(tokens);
    free(merges);
    free(noise);
    return s == MAAS_OK ? 0 : fail("writing the model");
}

/* Opens the file and looks up every tensor with its expected shape, as a
 * model loader does. */
static maas_status load(const char *path, const spec *specs, int n, maas_file **out)
{
    maas_file *f = NULL;
    maas_status s = maas_file_open(path, &f);
    for (int i = 0; i < n && s == MAAS_OK; i++) {
        maas_tensor t;
        s = maas_file_tensor_shaped(f, specs[i].name, specs[i].n_dims, specs[i].shape, &t);
    }
    if (s != MAAS_OK) {
        maas_file_close(f);
        return s;
    }
    *out = f;
    return MAAS_OK;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "build/bench-gpt2-124m.maas";
    spec specs[2 + 12 * L + 2];
    int n = gpt2_specs(specs);
    uint64_t params = 0;
    for (int i = 0; i < n; i++)
        params += (uint64_t)specs[i].shape[0] * (uint64_t)(specs[i].n_dims == 2 ? specs[i].shape[1] : 1);

    /* Reuse a valid file from an earlier run. */
    maas_file *f = NULL;
    if (load(path, specs, n, &f) == MAAS_OK) {
        maas_file_close(f);
    } else if (write_model(path, specs, n) != 0) {
        return 1;
    }

    /* Load time, page cache warm: the previous open or the write filled it. */
    double ms[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ms();
        if (load(path, specs, n, &f) != MAAS_OK)
            return fail("loading");
        maas_file_close(f);
        ms[r] = now_ms() - t0;
    }
    qsort(ms, RUNS, sizeof ms[0], compare_doubles);
    printf("model: GPT-2 124M shape, %" PRIu64 " parameters, f32, %d tensors, 50257 tokens, "
           "%d merges\n", params, n, MERGES);
    printf("load (open + validate + %d shaped lookups + close), %d runs: min %.2f ms, "
           "median %.2f ms, max %.2f ms (target < 50 ms)\n",
           n, RUNS, ms[0], ms[RUNS / 2], ms[RUNS - 1]);

    /* Resident memory: before, after opening, after reading one tensor,
     * after reading every tensor. */
    long rss0 = status_kb("VmRSS"), file0 = status_kb("RssFile");
    if (load(path, specs, n, &f) != MAAS_OK)
        return fail("loading");
    long rss1 = status_kb("VmRSS"), file1 = status_kb("RssFile");
    maas_tensor t;
    maas_file_tensor(f, "h.5.mlp.c_fc.weight", &t);
    double sum = 0;
    for (int64_t i = 0; i < maas_tensor_numel(&t); i++)
        sum += ((const float *)t.data)[i];
    long rss2 = status_kb("VmRSS"), file2 = status_kb("RssFile");
    for (uint32_t i = 0; i < maas_file_tensor_count(f); i++) {
        maas_file_tensor_at(f, i, &t);
        for (int64_t k = 0; k < maas_tensor_numel(&t); k += 1024)
            sum += ((const float *)t.data)[k];
    }
    long rss3 = status_kb("VmRSS"), file3 = status_kb("RssFile");
    maas_file_close(f);

    printf("resident set size (RssFile = pages of mapped files):\n");
    printf("  before open                        %7ld kB (RssFile %7ld kB)\n", rss0, file0);
    printf("  after open and %d lookups         %7ld kB (RssFile %7ld kB)\n", n, rss1, file1);
    printf("  after reading h.5.mlp.c_fc.weight  %7ld kB (RssFile %7ld kB), 9.4 MB tensor\n",
           rss2, file2);
    printf("  after touching every tensor        %7ld kB (RssFile %7ld kB)\n", rss3, file3);
    printf("(checksum %.3f)\n", sum);
    return 0;
}
