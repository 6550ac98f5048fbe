/* maas-convert: converts a Hugging Face model folder to a .maas file.
 *
 *   build/bin/maas-convert HF_DIR -o OUT.maas [--dtype f32|f16] [--quiet]
 *
 * Prints a progress bar on a terminal while writing, then a summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maas.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-convert HF_DIR -o OUT.maas [--dtype f32|f16] [--quiet]\n"
            "\n"
            "Converts a Hugging Face model folder (config.json, model.safetensors or a\n"
            "sharded model.safetensors.index.json, and the tokenizer files) to one .maas\n"
            "file.  Supported model types: %s.\n"
            "\n"
            "  -o, --output PATH  the .maas file to write (written to PATH.tmp, then renamed)\n"
            "  --dtype f32|f16    storage of 2-D weight matrices; default f32.  Biases and\n"
            "                     LayerNorm parameters stay f32.\n"
            "  -q, --quiet        print nothing but errors\n"
            "  -h, --help         show this help\n",
            maas_convert_architectures());
}

/* Redraws a one-line bar on stderr: "[#####.....]  42%  120.3 / 286.0 MB". */
static void draw_progress(uint64_t done, uint64_t total, void *user)
{
    (void)user;
    const int width = 40;
    int filled = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    fprintf(stderr, "\rwriting [%s] %3d%%  %.1f / %.1f MB", bar,
            total ? (int)(100.0 * (double)done / (double)total) : 100, (double)done / 1e6,
            (double)total / 1e6);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Checkpoints under this size finish too fast for a progress bar to help. */
#define PROGRESS_MIN_BYTES (64u << 20)

static uint64_t folder_weight_bytes(const char *dir)
{
    /* A rough size: model.safetensors, or 0 for sharded checkpoints (which
     * are large, so they always get the bar). */
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return UINT64_MAX;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    return size > 0 ? (uint64_t)size : 0;
}

static void print_summary(const char *dir, const char *out, const maas_convert_summary *s,
                          maas_dtype dtype)
{
    printf("converted   %s\n", dir);
    printf("to          %s\n", out);
    printf("arch        %s%s%s%s\n", s->arch, s->model_class[0] ? " (" : "", s->model_class,
           s->model_class[0] ? ")" : "");
    printf("layers      %u, hidden size %u, vocabulary %u (%u tokenizer entries)\n",
           s->n_layers, s->hidden_size, s->vocab_size, s->n_tokens);
    printf("parameters  %llu (%.1f M) in %u tensors; %u checkpoint tensors dropped\n",
           (unsigned long long)s->n_params, (double)s->n_params / 1e6, s->n_tensors,
           s->n_dropped);
    printf("weights     %s matrices, f32 vectors\n", maas_dtype_name(dtype));
    printf("bytes       %llu read, %llu written (%.1f MB)\n", (unsigned long long)s->bytes_read,
           (unsigned long long)s->bytes_written, (double)s->bytes_written / 1e6);
    printf("time        %.2f s\n", s->seconds);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    bool quiet = false;
    maas_convert_options opt = {.dtype = MAAS_DTYPE_F32};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(a, "--dtype") == 0 && i + 1 < argc) {
            const char *d = argv[++i];
            if (strcmp(d, "f32") == 0) {
                opt.dtype = MAAS_DTYPE_F32;
            } else if (strcmp(d, "f16") == 0) {
                opt.dtype = MAAS_DTYPE_F16;
            } else {
                fprintf(stderr, "maas-convert: invalid --dtype '%s'; use f32 or f16\n", d);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "maas-convert: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!dir) {
            dir = a;
        } else {
            fprintf(stderr, "maas-convert: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "maas-convert: %s is required\n", !dir ? "HF_DIR" : "-o OUT.maas");
        usage(stderr);
        return 2;
    }

    if (!quiet && isatty(STDERR_FILENO) && folder_weight_bytes(dir) >= PROGRESS_MIN_BYTES)
        opt.progress = draw_progress;

    maas_convert_summary summary;
    maas_status s = maas_convert(dir, out, &opt, &summary);
    if (s != MAAS_OK) {
        fprintf(stderr, "maas-convert: %s\n", maas_last_error());
        fprintf(stderr, "maas-convert: conversion failed (%s); %s was left unchanged\n",
                maas_status_name(s), out);
        /* INVALID_ARGUMENT here means the output path is one of the inputs. */
        return s == MAAS_ERR_INVALID_ARGUMENT ? 2 : 1;
    }
    if (!quiet)
        print_summary(dir, out, &summary, opt.dtype);
    return 0;
}
