/* maas-charnn: generate text with a character-level "rnn" .maas model.
 *
 *   maas-charnn -m MODEL.maas -p PREFIX -n N [--temp T] [--seed S] [-t THREADS]
 *
 * Feeds PREFIX through the model, then generates N characters one at a time:
 * the most likely character when T is 0 (greedy, the default), else a
 * sample from softmax(logits / T).  The prefix and the generated text go to
 * standard output, the speed to standard error.  Example:
 *   build/bin/maas-charnn -m build/fixtures/charnn-kjv.maas -p "And God said" -n 200
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "maas.h"

/* Upper bounds of the options. */
#define MAX_CHARS 10000000L  /* ten million characters */
#define MAX_THREADS 1024
#define MAX_TEMP 100.0

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-charnn -m MODEL.maas -p PREFIX -n N [--temp T] [--seed S] [-t THREADS]\n"
            "Generates N characters after PREFIX with a character-level RNN.\n"
            "  -m MODEL.maas  a model of architecture \"rnn\" (required)\n"
            "  -p PREFIX      text to start from (required, at least one character)\n"
            "  -n N           characters to generate, 0..%ld (default 200)\n"
            "  --temp T       sampling temperature, 0..%g; 0 picks the most likely\n"
            "                 character every step (default 0)\n"
            "  --seed S       seed of the sampler's random numbers, 0..2^64-1, or -1 for\n"
            "                 one taken from the clock (default 1)\n"
            "  -t THREADS     threads for the kernels, 0..%d; 0 uses every core (default 1)\n"
            "  -h, --help     show this help\n",
            MAX_CHARS, MAX_TEMP, MAX_THREADS);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *what, maas_status st)
{
    fprintf(stderr, "maas-charnn: %s: %s (%s)\n", what, maas_last_error(), maas_status_name(st));
}

/* Returns a double in [0, 1) from splitmix64, a small, well-mixed generator. */
static double next_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Picks the next id: argmax when temp is 0, else a draw from
 * softmax(logits / temp) by inverting the cumulative distribution. */
static int sample(const float *logits, int V, double temp, uint64_t *rng)
{
    if (temp <= 0.0)
        return maas_argmax_f32(logits, V);
    double max = logits[0], total = 0.0;
    for (int i = 1; i < V; i++)
        if (logits[i] > max)
            max = logits[i];
    for (int i = 0; i < V; i++)
        total += exp((logits[i] - max) / temp);
    double u = next_uniform(rng) * total, acc = 0.0;
    for (int i = 0; i < V; i++) {
        acc += exp((logits[i] - max) / temp);
        if (u < acc)
            return i;
    }
    return V - 1;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"temp", required_argument, NULL, 'T'},
        {"seed", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *prefix = NULL;
    long n_chars = 200;
    double temp = 0.0;
    uint64_t seed = 1;
    int n_threads = 1, opt;

    cli_program = "maas-charnn";
    while ((opt = getopt_long(argc, argv, "m:p:n:t:h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'p': prefix = optarg; break;
        case 'n': n_chars = (long)cli_parse_int("-n", optarg, 0, MAX_CHARS); break;
        case 't': n_threads = (int)cli_parse_int("-t", optarg, 0, MAX_THREADS); break;
        case 'T': temp = cli_parse_float("--temp", optarg, 0.0, MAX_TEMP); break;
        case 'S':
            if (!cli_parse_seed("--seed", optarg, &seed))
                seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || !prefix) {
        fprintf(stderr, "maas-charnn: %s is required\n", !model_path ? "-m MODEL.maas"
                                                                      : "-p PREFIX");
        usage(stderr);
        return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "maas-charnn: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    /* Step 1: the model, and the prefix as ids. */
    maas_file *file = NULL;
    maas_rnn *model = NULL;
    maas_rnn_context *ctx = NULL;
    int32_t *ids = NULL;
    int n_ids, rc = 1;
    maas_status st = maas_file_open(model_path, &file);
    if (st != MAAS_OK) {
        report("cannot open the model", st);
        goto done;
    }
    if ((st = maas_rnn_load(file, &model)) != MAAS_OK) {
        report("cannot load the model", st);
        goto done;
    }
    if ((st = maas_rnn_encode(model, prefix, NULL, 0, &n_ids)) != MAAS_OK) {
        report("cannot encode the prefix", st);
        goto done;
    }
    if (n_ids < 1) {
        fprintf(stderr, "maas-charnn: the prefix is empty. Give at least one character\n");
        rc = 2;
        goto done;
    }
    ids = malloc((size_t)n_ids * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "maas-charnn: out of memory for %d ids\n", n_ids);
        goto done;
    }
    maas_rnn_encode(model, prefix, ids, n_ids, &n_ids);
    if ((st = maas_rnn_context_create(model, n_ids, n_threads, &ctx)) != MAAS_OK) {
        report("cannot create a context", st);
        goto done;
    }

    /* Step 2: the prefix in one forward pass. */
    double start = now_seconds();
    if ((st = maas_rnn_forward(ctx, ids, n_ids, NULL)) != MAAS_OK) {
        report("forward pass failed", st);
        goto done;
    }
    double prefix_done = now_seconds();
    fputs(prefix, stdout);

    /* Step 3: one character at a time, each fed back as the next input. */
    uint64_t rng = seed;
    int V = maas_rnn_vocab_size(model);
    for (long i = 0; i < n_chars; i++) {
        int32_t next = sample(maas_rnn_last_logits(ctx), V, temp, &rng);
        fputs(maas_rnn_token(model, next), stdout);
        if ((st = maas_rnn_forward(ctx, &next, 1, NULL)) != MAAS_OK) {
            report("forward pass failed", st);
            goto done;
        }
    }
    putchar('\n');
    double end = now_seconds();

    fprintf(stderr, "maas-charnn: prefix %d characters in %.3f ms; %ld characters generated "
            "in %.3f ms (%.0f characters/s)\n", n_ids, (prefix_done - start) * 1e3, n_chars,
            (end - prefix_done) * 1e3, (end - prefix_done) > 0 ? n_chars / (end - prefix_done) : 0.0);
    rc = 0;

done:
    free(ids);
    maas_rnn_context_free(ctx);
    maas_rnn_free(model);
    maas_file_close(file);
    return rc;
}
