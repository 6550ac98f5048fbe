/* Command-line helpers shared by the example programs.  Header-only,
 * because every program is one .c file.  Each parser exits with status 2
 * and a message naming the option and the bad value, as usage errors do. */
#ifndef MAAS_EXAMPLES_CLI_H
#define MAAS_EXAMPLES_CLI_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

/* The program name used in messages; each program sets it first in main. */
static const char *cli_program = "maas";

/* Parses a whole decimal number in [lo, hi]. */
static inline long long cli_parse_int(const char *option, const char *text,
                                      long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || *text == '\0' || errno != 0 || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: invalid value '%s' (expected a whole number in %lld..%lld)\n",
                cli_program, option, text ? text : "", lo, hi);
        exit(2);
    }
    return v;
}

/* Parses a finite number in [lo, hi]. */
static inline double cli_parse_float(const char *option, const char *text,
                                     double lo, double hi)
{
    char *end = NULL;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || *text == '\0' || errno != 0 || *end != '\0' || !isfinite(v) ||
        v < lo || v > hi) {
        fprintf(stderr, "%s: %s: invalid value '%s' (expected a number in %g..%g)\n",
                cli_program, option, text ? text : "", lo, hi);
        exit(2);
    }
    return v;
}

/* Parses a random seed: any unsigned 64-bit number, or -1 for "pick one". */
static inline bool cli_parse_seed(const char *option, const char *text, uint64_t *seed)
{
    char *end = NULL;
    if (text && text[0] == '-' && text[1] == '1' && text[2] == '\0')
        return false;
    errno = 0;
    unsigned long long v = text ? strtoull(text, &end, 10) : 0;
    if (!text || *text == '\0' || *text == '-' || errno != 0 || *end != '\0') {
        fprintf(stderr, "%s: %s: invalid value '%s' (expected -1 or a whole number in "
                "0..18446744073709551615)\n", cli_program, option, text ? text : "");
        exit(2);
    }
    *seed = v;
    return true;
}

/* Exits with a message when the output path names the same file as an
 * input (the model, a context file).  Writing it would destroy the input,
 * and truncating a memory-mapped model crashes the program that maps it. */
static inline void cli_check_output(const char *output_option, const char *output,
                                    const char *input)
{
    struct stat out_st, in_st;
    if (!output || !input || stat(output, &out_st) != 0 || stat(input, &in_st) != 0)
        return;
    if (out_st.st_dev == in_st.st_dev && out_st.st_ino == in_st.st_ino) {
        fprintf(stderr, "%s: %s: '%s' is the input file '%s'; choose another output path\n",
                cli_program, output_option, output, input);
        exit(2);
    }
}

/* Exits with a message unless `path` is a regular file (not a directory,
 * FIFO or device), checked before the program opens it. */
static inline void cli_check_regular_file(const char *option, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: cannot open '%s': %s\n", cli_program, option, path,
                strerror(errno));
        exit(1);
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: %s: '%s' is not a regular file\n", cli_program, option, path);
        exit(1);
    }
}

/* Prints the --json record {"line": N, "error": MESSAGE} for an input line
 * that failed, so the JSON output keeps one record per input line. */
static inline void cli_print_json_error(long line_no, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "line", (double)line_no);
    cJSON_AddStringToObject(root, "error", message);
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    fflush(stdout);
}

#endif /* MAAS_EXAMPLES_CLI_H */
