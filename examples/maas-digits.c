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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maas.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-digits -m MODEL.maas [-t THREADS] [-b BATCH] [FILE]\n"
            "Classifies images (one a line: a label or ?, then the pixel values) and\n"
            "prints one predicted class a line; the accuracy goes to standard error.\n"
            "  -m MODEL.maas  a model of architecture \"cnn\" (required)\n"
            "  -t THREADS     threads for the kernels (default: every core)\n"
            "  -b BATCH       images per forward pass (default 64)\n"
            "  FILE           images in the plain text format (default: standard input)\n");
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

int main(int argc, char **argv)
{
    const char *model_path = NULL, *input_path = NULL;
    int n_threads = 0, max_batch = 64, opt;

    while ((opt = getopt(argc, argv, "m:t:b:h")) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 't': n_threads = atoi(optarg); break;
        case 'b': max_batch = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || optind + 1 < argc || max_batch < 1) {
        usage(stderr);
        return 2;
    }
    if (optind < argc && strcmp(argv[optind], "-") != 0)
        input_path = argv[optind];

    /* Step 1: the model and a context for batches of max_batch images. */
    maas_file *file = NULL;
    maas_cnn *model = NULL;
    maas_cnn_context *ctx = NULL;
    float *images = NULL;
    int *labels = NULL, *classes = NULL;
    size_t n = 0;
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
    if ((st = maas_cnn_context_create(model, max_batch, n_threads, &ctx)) != MAAS_OK) {
        report("cannot create a context", st);
        goto done;
    }
    int c, h, w;
    maas_cnn_input_shape(model, &c, &h, &w);
    size_t image_size = (size_t)c * h * w;

    /* Step 2: the images. */
    FILE *fp = input_path ? fopen(input_path, "r") : stdin;
    if (!fp) {
        perror(input_path);
        goto done;
    }
    st = maas_cnn_read_images(fp, input_path ? input_path : "<stdin>", image_size, &images,
                              &labels, &n);
    if (fp != stdin)
        fclose(fp);
    if (st != MAAS_OK) {
        report("cannot read the images", st);
        goto done;
    }

    /* Step 3: classify in batches and print one class a line. */
    classes = malloc((n ? n : 1) * sizeof *classes);
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

    /* Step 4: statistics to standard error. */
    fprintf(stderr, "maas-digits: %zu images in %.3f ms (%.0f images/s, batch %d)\n", n,
            elapsed * 1e3, elapsed > 0 ? (double)n / elapsed : 0.0, max_batch);
    if (labelled > 0)
        fprintf(stderr, "maas-digits: accuracy %zu/%zu = %.2f%%\n", correct, labelled,
                100.0 * (double)correct / (double)labelled);
    rc = 0;

done:
    free(classes);
    free(images);
    free(labels);
    maas_cnn_context_free(ctx);
    maas_cnn_free(model);
    maas_file_close(file);
    return rc;
}
