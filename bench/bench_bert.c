/* BERT forward-pass speed: batch-1 latency at 128 and 384 tokens, and
 * sentences per second for a packed batch of 32 short sentences, with 1 and
 * 2 threads, on a BERT-base-shaped model and on all-MiniLM-L6-v2.
 *
 *   bench_bert [--model FILE] [--minilm FILE] [--threads 1,2] [--repeats N] [--json]
 *
 * Defaults: build/cache/bert-base-random.maas (tools/make_bert_bench_model.py,
 * then maas-convert) and build/models/all-MiniLM-L6-v2.maas
 * (tools/fetch-minilm.sh).  A missing model is skipped with a message.
 * Inputs are the deterministic token ids of input_id() below, which
 * bench/bench_bert.py reproduces for PyTorch.  Results go to stdout,
 * progress to stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maas.h"

#define BATCH 32
#define CLS_ID 101
#define SEP_ID 102

/* Token t of sequence s of length len: [CLS] ... [SEP] with ordinary
 * vocabulary ids in between. */
static int32_t input_id(int s, int t, int len)
{
    if (t == 0)
        return CLS_ID;
    if (t == len - 1)
        return SEP_ID;
    return 1000 + (int32_t)(((long)s * 7919 + (long)t * 104729) % 20000);
}

/* Lengths of the short sentences: 8 to 16 tokens, 12 on average. */
static int short_len(int i)
{
    return 8 + (i * 5) % 9;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wall-clock and CPU time (all threads of the process) of one run. */
typedef struct timing {
    double wall, cpu;
} timing;

/* Runs the batch once to warm up, then `repeats` times; returns the
 * fastest run (the one least disturbed by other processes), or a negative
 * wall time on failure. */
static timing time_batch(maas_bert_context *ctx, const maas_bert_batch *b, float *out, int repeats)
{
    timing best = {-1.0, -1.0};
    for (int r = -1; r < repeats; r++) {
        double wall0 = clock_seconds(CLOCK_MONOTONIC);
        double cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (maas_bert_hidden(ctx, b, out) != MAAS_OK) {
            fprintf(stderr, "bench_bert: %s\n", maas_last_error());
            return (timing){-1.0, -1.0};
        }
        timing t = {clock_seconds(CLOCK_MONOTONIC) - wall0,
                    clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0};
        if (r >= 0 && (best.wall < 0 || t.wall < best.wall))
            best = t;
    }
    return best;
}

static void report(const char *model, const char *what, int threads, timing t, int sentences,
                   bool json)
{
    if (json)
        printf("{\"model\":\"%s\",\"case\":\"%s\",\"threads\":%d,\"ms\":%.3f,\"cpu_ms\":%.3f,"
               "\"sentences_per_s\":%.2f}\n",
               model, what, threads, t.wall * 1e3, t.cpu * 1e3, sentences / t.wall);
    else
        printf("%-10s %-8s %d thread%s  %9.2f ms (CPU %9.2f ms)  %8.1f sentences/s\n", model, what,
               threads, threads > 1 ? "s" : " ", t.wall * 1e3, t.cpu * 1e3, sentences / t.wall);
    fflush(stdout);
}

static int bench_model(const char *path, const char *label, bool latency, const int *threads,
                       int n_threads, int repeats, bool json)
{
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "bench_bert: skipping %s: %s is missing\n", label, path);
        return 0;
    }
    maas_bert *model = NULL;
    if (maas_bert_open(path, &model) != MAAS_OK) {
        fprintf(stderr, "bench_bert: %s\n", maas_last_error());
        return 1;
    }
    const int C = maas_bert_get_config(model)->hidden_size;
    int32_t *ids = malloc(4096 * sizeof(int32_t));
    float *out = malloc(4096 * (size_t)C * sizeof(float));
    int status = 0;

    for (int ti = 0; ti < n_threads && status == 0; ti++) {
        maas_bert_context_params p;
        maas_bert_context_params_default(model, &p);
        p.n_threads = threads[ti];
        maas_bert_context *ctx = NULL;
        if (maas_bert_context_create(model, &p, &ctx) != MAAS_OK) {
            fprintf(stderr, "bench_bert: %s\n", maas_last_error());
            status = 1;
            break;
        }

        /* Batch 1 at 128 and 384 tokens. */
        const int lengths[2] = {128, 384};
        for (int li = 0; latency && li < 2 && status == 0; li++) {
            int len = lengths[li];
            for (int t = 0; t < len; t++)
                ids[t] = input_id(0, t, len);
            maas_bert_batch b = {1, &len, ids, NULL};
            timing t = time_batch(ctx, &b, out, repeats);
            char what[32];
            snprintf(what, sizeof what, "seq%d", len);
            if (t.wall < 0)
                status = 1;
            else
                report(label, what, threads[ti], t, 1, json);
        }

        /* 32 short sentences packed in one batch. */
        int lens[BATCH], total = 0;
        for (int i = 0; i < BATCH; i++) {
            lens[i] = short_len(i);
            for (int t = 0; t < lens[i]; t++)
                ids[total + t] = input_id(i, t, lens[i]);
            total += lens[i];
        }
        maas_bert_batch b = {BATCH, lens, ids, NULL};
        timing t = status == 0 ? time_batch(ctx, &b, out, repeats) : (timing){-1.0, -1.0};
        if (t.wall < 0)
            status = 1;
        else
            report(label, "batch32", threads[ti], t, BATCH, json);
        maas_bert_context_free(ctx);
    }

    free(ids);
    free(out);
    maas_bert_free(model);
    return status;
}

int main(int argc, char **argv)
{
    const char *model = "build/cache/bert-base-random.maas";
    const char *minilm = "build/models/all-MiniLM-L6-v2.maas";
    int threads[8] = {1, 2}, n_threads = 2, repeats = 5;
    bool json = false;

    static const struct option long_opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"minilm", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:n:t:r:jh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'n': minilm = optarg; break;
        case 'r': repeats = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'j': json = true; break;
        case 't': {
            n_threads = 0;
            for (char *tok = strtok(optarg, ","); tok && n_threads < 8; tok = strtok(NULL, ","))
                threads[n_threads++] = atoi(tok) > 0 ? atoi(tok) : 1;
            break;
        }
        case 'h':
            printf("usage: bench_bert [--model FILE] [--minilm FILE] [--threads 1,2] "
                   "[--repeats N] [--json]\n");
            return 0;
        default:
            return 2;
        }
    }

    int status = bench_model(model, "bert-base", true, threads, n_threads, repeats, json);
    if (status == 0)
        status = bench_model(minilm, "minilm", true, threads, n_threads, repeats, json);
    return status;
}
