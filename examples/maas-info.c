/* maas-info: prints what a .maas file contains.
 *
 *   build/bin/maas-info MODEL.maas
 *
 * Opening validates the whole file, so a file that prints is a file libmaas
 * can load; a damaged one gets the reader's error message. */
#include <stdio.h>
#include <string.h>

#include "maas.h"

/* Prints `s` in double quotes with control bytes escaped. */
static void print_quoted(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_value(const maas_file *f, const char *key, maas_value_type type)
{
    uint32_t u, count;
    int32_t i;
    double d;
    bool b;
    const char *s;
    const int32_t *ints;

    switch (type) {
    case MAAS_VALUE_U32:
        maas_file_get_u32(f, key, &u);
        printf("%u", u);
        break;
    case MAAS_VALUE_I32:
        maas_file_get_i32(f, key, &i);
        printf("%d", i);
        break;
    case MAAS_VALUE_F32:
    case MAAS_VALUE_F64:
        maas_file_get_f64(f, key, &d);
        printf("%.9g", d);
        break;
    case MAAS_VALUE_BOOL:
        maas_file_get_bool(f, key, &b);
        printf("%s", b ? "true" : "false");
        break;
    case MAAS_VALUE_STRING:
        maas_file_get_str(f, key, &s);
        print_quoted(s);
        break;
    case MAAS_VALUE_STRING_ARRAY:
        maas_file_get_str_array(f, key, &count);
        printf("%u strings [", count);
        for (uint32_t k = 0; k < count && k < 6; k++) {
            maas_file_get_str_at(f, key, k, &s, NULL);
            printf(k ? ", " : "");
            print_quoted(s);
        }
        printf("%s]", count > 6 ? ", ..." : "");
        break;
    case MAAS_VALUE_I32_ARRAY:
        maas_file_get_i32_array(f, key, &ints, &count);
        printf("%u values [", count);
        for (uint32_t k = 0; k < count && k < 8; k++)
            printf(k ? ", %d" : "%d", ints[k]);
        printf("%s]", count > 8 ? ", ..." : "");
        break;
    default:
        printf("?");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: maas-info MODEL.maas\n"
                "Validates a .maas file and prints its architecture, key/values and tensors.\n");
        return argc == 2 ? 0 : 2;
    }
    maas_file *f;
    maas_status s = maas_file_open(argv[1], &f);
    if (s != MAAS_OK) {
        fprintf(stderr, "maas-info: %s (%s)\n", maas_last_error(), maas_status_name(s));
        return 1;
    }

    printf("file  %s\narch  %s\n\nkey/values (%u)\n", maas_file_path(f), maas_file_arch(f),
           maas_file_kv_count(f));
    for (uint32_t k = 0; k < maas_file_kv_count(f); k++) {
        maas_value_type type;
        const char *key = maas_file_kv_key(f, k, &type);
        printf("  %-36s %-12s ", key, maas_value_type_name(type));
        print_value(f, key, type);
        putchar('\n');
    }

    uint64_t params = 0, bytes = 0;
    printf("\ntensors (%u)\n", maas_file_tensor_count(f));
    for (uint32_t k = 0; k < maas_file_tensor_count(f); k++) {
        maas_tensor t;
        maas_file_tensor_at(f, k, &t);
        char shape[96];
        int n = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t.n_dims; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, d ? ", %lld" : "%lld",
                          (long long)t.shape[d]);
        snprintf(shape + n, sizeof shape - (size_t)n, "]");
        printf("  %-48s %-5s %s\n", maas_file_tensor_name(f, k), maas_dtype_name(t.dtype), shape);
        params += (uint64_t)maas_tensor_numel(&t);
        bytes += maas_tensor_nbytes(&t);
    }
    printf("\n%llu parameters, %.1f MB of tensor data\n", (unsigned long long)params,
           (double)bytes / 1e6);
    maas_file_close(f);
    return 0;
}
