/* maas-digits: classify images with a "cnn" .maas model.
 *
 *   maas-digits -m MODEL.maas [-t THREADS] [-b BATCH] [FILE]
 *
 * Reads images in the plain text format of docs/FORMAT.md from FILE (or
 * standard input), prints the predicted class of each image on its own line
 * to standard output, and, when the images carry labels, the accuracy to
 * standard error.  Example, on the committed held-out split:
 *   build/bin/maas-digits -m build/fixtures/digits-cnn.maas \
 *       tests/fixtures/digits-cnn/heldout.txt
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "maas.h"

/* Upper bounds of the options: far above any useful value, low enough that
 * a typing slip cannot ask for terabytes of activations. */
#define MAX_THREADS 1024
#define MAX_BATCH 65536

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-digits -m MODEL.maas [-t THREADS] [-b BATCH] [FILE]\n"
            "Classifies images (one a line: a label or ?, then the pixel values) and\n"
            "prints one predicted class a line; the accuracy goes to standard error.\n"
            "  -m MODEL.maas  a model of architecture \"cnn\" (required)\n"
            "  -t THREADS     threads for the kernels, 0..%d (default 0: every core)\n"
            "  -b BATCH       images per forward pass, 1..%d (default 64)\n"
            "  -h, --help     show this help\n"
            "  FILE           images in the plain text format (default: standard input)\n",
            MAX_THREADS, MAX_BATCH);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *what, maas_status st)
{
    fprintf(stderr, "maas-digits: %s: %s (%s)\n", what, maas_last_error(), maas_status_name(st));
}

/* Reads a whole stream into a malloc'ed buffer; NULL on a read error or
 * out of memory (errno tells which). */
static char *read_stream(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            return NULL;
        }
        buf = grown;
        cap *= 2;
    }
    if (buf && ferror(fp)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Returns the 1-based line number of image `index` in `text`, counting
 * lines as maas_cnn_read_images does: blank lines and # comments hold no
 * image. */
static size_t image_line(const char *text, size_t len, size_t index)
{
    size_t line_no = 0, seen = 0, at = 0;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        line_no++;
        size_t skip = at;
        while (skip < end && strchr(" \t\r", text[skip]))
            skip++;
        if (skip < end && text[skip] != '#' && seen++ == index)
            return line_no;
        at = end + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *input_path = NULL;
    int n_threads = 0, max_batch = 64, opt;

    cli_program = "maas-digits";
    while ((opt = getopt_long(argc, argv, "m:t:b:h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 't': n_threads = (int)cli_parse_int("-t", optarg, 0, MAX_THREADS); break;
        case 'b': max_batch = (int)cli_parse_int("-b", optarg, 1, MAX_BATCH); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "maas-digits: -m MODEL.maas is required\n");
        usage(stderr);
        return 2;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "maas-digits: more than one FILE: '%s'\n", argv[optind + 1]);
        usage(stderr);
        return 2;
    }
    if (optind < argc && strcmp(argv[optind], "-") != 0)
        input_path = argv[optind];
    const char *input_name = input_path ? input_path : "standard input";

    /* Step 1: the model. */
    maas_file *file = NULL;
    maas_cnn *model = NULL;
    maas_cnn_context *ctx = NULL;
    float *images = NULL;
    int *labels = NULL, *classes = NULL;
    char *text = NULL;
    size_t n = 0, text_len = 0;
    int rc = 1;
    maas_status st = maas_file_open(model_path, &file);
    if (st != MAAS_OK) {
        report("cannot open the model", st);
        goto done;
    }
    if ((st = maas_cnn_load(file, &model)) != MAAS_OK) {
        report("cannot load the model", st);
        goto done;
    }
    int c, h, w;
    maas_cnn_input_shape(model, &c, &h, &w);
    size_t image_size = (size_t)c * h * w;
    int n_classes = maas_cnn_n_classes(model);

    /* Step 2: the images, read whole so that a bad label can be traced
     * back to its line. */
    FILE *fp = stdin;
    if (input_path) {
        /* A pipe or FIFO is a valid input stream here, so no regular-file check. */
        fp = fopen(input_path, "r");
        if (!fp) {
            fprintf(stderr, "maas-digits: cannot open %s: %s\n", input_path, strerror(errno));
            goto done;
        }
    }
    text = read_stream(fp, &text_len);
    int read_errno = errno;
    if (fp != stdin)
        fclose(fp);
    if (!text) {
        fprintf(stderr, "maas-digits: cannot read %s: %s\n", input_name, strerror(read_errno));
        goto done;
    }
    if (text_len == 0) {
        fprintf(stderr, "maas-digits: no images in %s\n", input_name);
        goto done;
    }
    FILE *mem = fmemopen(text, text_len, "r");
    if (!mem) {
        fprintf(stderr, "maas-digits: cannot scan %s: %s\n", input_name, strerror(errno));
        goto done;
    }
    st = maas_cnn_read_images(mem, input_name, image_size, &images, &labels, &n);
    fclose(mem);
    if (st != MAAS_OK) {
        report("cannot read the images", st);
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "maas-digits: no images in %s\n", input_name);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= n_classes) {
            fprintf(stderr, "maas-digits: %s:%zu: label %d is not a class of this model "
                    "(expected 0..%d or ?)\n", input_name, image_line(text, text_len, i),
                    labels[i], n_classes - 1);
            goto done;
        }
    }

    /* Step 3: a context for batches of up to max_batch images; no batch is
     * larger than the input, so a large -b costs no memory. */
    if ((size_t)max_batch > n)
        max_batch = (int)n;
    if ((st = maas_cnn_context_create(model, max_batch, n_threads, &ctx)) != MAAS_OK) {
        report("cannot create a context", st);
        goto done;
    }

    /* Step 4: classify in batches and print one class a line. */
    classes = malloc(n * sizeof *classes);
    if (!classes) {
        fprintf(stderr, "maas-digits: out of memory for %zu classes\n", n);
        goto done;
    }
    double start = now_seconds();
    for (size_t i = 0; i < n; i += (size_t)max_batch) {
        int batch = (int)(n - i < (size_t)max_batch ? n - i : (size_t)max_batch);
        st = maas_cnn_classify(ctx, images + i * image_size, batch, classes + i);
        if (st != MAAS_OK) {
            report("forward pass failed", st);
            goto done;
        }
    }
    double elapsed = now_seconds() - start;
    size_t labelled = 0, correct = 0;
    for (size_t i = 0; i < n; i++) {
        const char *label = maas_cnn_label(model, classes[i]);
        if (label)
            printf("%s\n", label);
        else
            printf("%d\n", classes[i]);
        if (labels[i] >= 0) {
            labelled++;
            correct += labels[i] == classes[i];
        }
    }

    /* Step 5: statistics to standard error. */
    fprintf(stderr, "maas-digits: %zu images in %.3f ms (%.0f images/s, batch %d)\n", n,
            elapsed * 1e3, elapsed > 0 ? (double)n / elapsed : 0.0, max_batch);
    if (labelled > 0)
        fprintf(stderr, "maas-digits: accuracy %zu/%zu = %.2f%%\n", correct, labelled,
                100.0 * (double)correct / (double)labelled);
    rc = 0;

done:
    free(text);
    free(classes);
    free(images);
    free(labels);
    maas_cnn_context_free(ctx);
    maas_cnn_free(model);
    maas_file_close(file);
    return rc;
}
