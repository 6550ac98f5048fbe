/* Images in plain text: one image a line, a label then the values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "maas/cnn.h"

/* Appends one image to the growing arrays, doubling them when full. */
static maas_status grow(float **images, int **labels, size_t *cap, size_t count,
                        size_t image_size)
{
    if (count < *cap)
        return MAAS_OK;
    size_t new_cap = *cap ? *cap * 2 : 64, bytes;
    if (!maas_mul_size(new_cap, image_size * sizeof(float), &bytes))
        return maas_fail(MAAS_ERR_OVERFLOW, "too many images: %zu of %zu values", new_cap,
                         image_size);
    float *im = realloc(*images, bytes);
    if (!im)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %zu images", new_cap);
    *images = im;
    int *lab = realloc(*labels, new_cap * sizeof *lab);
    if (!lab)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %zu labels", new_cap);
    *labels = lab;
    *cap = new_cap;
    return MAAS_OK;
}

/* Parses one non-comment line into label and values. */
static maas_status parse_line(char *line, const char *name, size_t line_no, size_t image_size,
                              int *label, float *values)
{
    char *save = NULL;
    char *tok = strtok_r(line, " \t\r\n", &save);

    /* Step 1: the label, an integer or ? for unknown. */
    if (strcmp(tok, "?") == 0) {
        *label = -1;
    } else {
        char *end;
        errno = 0;
        long v = strtol(tok, &end, 10);
        if (*end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%zu: label \"%s\" is not a class number "
                             "or ?", name, line_no, tok);
        *label = (int)v;
    }

    /* Step 2: exactly image_size finite numbers. */
    size_t n = 0;
    while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
        if (n == image_size)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%zu: more than %zu values after the "
                             "label", name, line_no, image_size);
        char *end;
        float v = strtof(tok, &end);
        if (*end != '\0' || !isfinite(v))
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%zu: value %zu (\"%s\") is not a finite "
                             "number", name, line_no, n + 1, tok);
        values[n++] = v;
    }
    if (n != image_size)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%zu: %zu values after the label; the model "
                         "takes %zu", name, line_no, n, image_size);
    return MAAS_OK;
}

maas_status maas_cnn_read_images(FILE *fp, const char *name, size_t image_size,
                                 float **images, int **labels, size_t *count)
{
    if (!fp || !name || !images || !labels || !count || image_size == 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_cnn_read_images: every pointer must be set and image_size > 0");
    float *im = NULL;
    int *lab = NULL;
    size_t n = 0, cap = 0, line_no = 0, line_cap = 0;
    char *line = NULL;
    maas_status st = MAAS_OK;

    while (getline(&line, &line_cap, fp) >= 0) {
        line_no++;
        size_t skip = strspn(line, " \t\r\n");
        if (line[skip] == '\0' || line[skip] == '#')
            continue;
        if ((st = grow(&im, &lab, &cap, n, image_size)) != MAAS_OK)
            break;
        st = parse_line(line + skip, name, line_no, image_size, &lab[n], im + n * image_size);
        if (st != MAAS_OK)
            break;
        n++;
    }
    if (st == MAAS_OK && ferror(fp))
        st = maas_fail(MAAS_ERR_IO, "%s: read error: %s", name, strerror(errno));
    free(line);
    if (st != MAAS_OK) {
        free(im);
        free(lab);
        return st;
    }
    *images = im;
    *labels = lab;
    *count = n;
    return MAAS_OK;
}
