/* Builds tokenizers from Hugging Face vocabulary files: vocab.json plus
 * merges.txt (GPT-2) and vocab.txt (WordPiece). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "jsonfile.h"
#include "tok_internal.h"

static maas_status read_whole_file(const char *path, char **data, size_t *len)
{
    /* A FIFO or device is rejected before it can block the open. */
    int fd;
    maas_status opened = maas_open_regular_file(path, &fd, NULL);
    if (opened == MAAS_ERR_NOT_FOUND)
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(ENOENT));
    if (opened != MAAS_OK)
        return opened;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        int err = errno;
        close(fd);
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(err));
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(fp);
                return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot read %s into memory", path);
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, 65536, fp);
        n += got;
        if (got < 65536)
            break;
    }
    bool failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        return maas_fail(MAAS_ERR_IO, "cannot read %s", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MAAS_OK;
}

/* Puts the file name in front of the builder's message. */
static maas_status prefix_error(maas_status st, const char *path)
{
    char message[768];
    snprintf(message, sizeof message, "%s", maas_last_error());
    return maas_fail(st, "%s: %s", path, message);
}

/* Writes `len` bytes of `s` to `out` for a message: valid UTF-8 as is,
 * every other byte and control characters as \xHH, cut to about 120 bytes. */
static const char *escape_bytes(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0, i = 0;
    while (i < len && o + 8 < size && o < 120) {
        int32_t cp;
        int n = tok_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n > 0 && cp >= 0x20 && cp != 0x7f) {
            memcpy(out + o, s + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", (unsigned char)s[i]);
            i++;
        }
    }
    if (i < len && o + 4 < size)
        o += (size_t)snprintf(out + o, size - o, "...");
    out[o] = '\0';
    return out;
}

/* Checks each merges.txt line before the tokenizer is built, so errors
 * name the file and line: two tokens separated by one space, in UTF-8
 * (vocab.json tokens are JSON strings, so other bytes can never match). */
static maas_status check_merge_lines(const char *path, char *const *lines, const uint32_t *lens,
                                     uint32_t first, uint32_t n)
{
    char shown[160];
    for (uint32_t i = first; i < n; i++) {
        const char *m = lines[i];
        size_t len = lens[i];
        const char *space = memchr(m, ' ', len);
        if (!space || space == m || space == m + len - 1 ||
            memchr(space + 1, ' ', len - (size_t)(space - m) - 1))
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s line %u: expected two tokens separated "
                             "by one space, got \"%s\"", path, i + 1,
                             escape_bytes(m, len, shown, sizeof shown));
        for (size_t at = 0; at < len;) {
            int32_t cp;
            int k = tok_utf8_decode((const unsigned char *)m + at, len - at, &cp);
            if (k <= 0)
                return maas_fail(MAAS_ERR_INVALID_UTF8, "%s line %u: byte %zu is not valid "
                                 "UTF-8 in \"%s\"", path, i + 1, at + 1,
                                 escape_bytes(m, len, shown, sizeof shown));
            at += (size_t)k;
        }
    }
    return MAAS_OK;
}

/* Splits text into lines in place (dropping "\n" and a "\r" before it);
 * *lines points into text. */
static maas_status split_lines(char *text, size_t len, char ***lines, uint32_t **lens,
                               uint32_t *count)
{
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            n++;
    n++;
    *lines = malloc(n * sizeof **lines);
    *lens = malloc(n * sizeof **lens);
    if (!*lines || !*lens)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %u lines", n);
    uint32_t k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && text[end - 1] == '\r')
            end--;
        if (i == len && end == start)
            break;  /* no line after the final newline */
        text[end] = '\0';
        (*lines)[k] = text + start;
        (*lens)[k] = (uint32_t)(end - start);
        k++;
        start = i + 1;
    }
    *count = k;
    return MAAS_OK;
}

maas_status maas_tokenizer_load_bpe(const char *vocab_json_path, const char *merges_path,
                                    maas_tokenizer **out)
{
    if (!vocab_json_path || !merges_path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "load_bpe needs two paths and an output pointer");
    char *json_text = NULL, *merges_text = NULL;
    size_t json_len, merges_len;
    cJSON *root = NULL;
    const char **tokens = NULL;
    char **lines = NULL;
    uint32_t *lens = NULL, n_lines = 0;
    tok_spec spec;
    tok_spec_defaults(&spec, MAAS_TOKENIZER_BPE);

    /* Step 1: vocab.json, an object of token -> id with ids 0..n-1. */
    maas_status st = read_whole_file(vocab_json_path, &json_text, &json_len);
    if (st == MAAS_OK) {
        root = cJSON_ParseWithLength(json_text, json_len);
        if (!cJSON_IsObject(root))
            st = maas_fail(MAAS_ERR_BAD_JSON, "%s is not a JSON object of token -> id",
                           vocab_json_path);
    }
    uint32_t n_tokens = 0;
    if (st == MAAS_OK) {
        n_tokens = (uint32_t)cJSON_GetArraySize(root);
        tokens = calloc(n_tokens ? n_tokens : 1, sizeof *tokens);
        if (!tokens)
            st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %u tokens", n_tokens);
    }
    for (cJSON *item = root ? root->child : NULL; st == MAAS_OK && item; item = item->next) {
        double v = item->valuedouble;
        if (!cJSON_IsNumber(item) || v < 0 || v >= n_tokens || v != (double)(uint32_t)v) {
            st = maas_fail(MAAS_ERR_BAD_JSON,
                           "%s: token \"%s\" has id %g; ids must be the integers 0..%u",
                           vocab_json_path, item->string, v, n_tokens - 1);
        } else if (tokens[(uint32_t)v]) {
            st = maas_fail(MAAS_ERR_BAD_JSON, "%s: id %u is given to \"%s\" and \"%s\"",
                           vocab_json_path, (uint32_t)v, tokens[(uint32_t)v], item->string);
        } else {
            tokens[(uint32_t)v] = item->string;
        }
    }

    /* Step 2: merges.txt, "left right" per line by rank after a
     * "#version" line. */
    if (st == MAAS_OK)
        st = read_whole_file(merges_path, &merges_text, &merges_len);
    if (st == MAAS_OK)
        st = split_lines(merges_text, merges_len, &lines, &lens, &n_lines);
    uint32_t first = 0, n = 0;
    if (st == MAAS_OK) {
        first = n_lines > 0 && strncmp(lines[0], "#version", 8) == 0 ? 1 : 0;
        n = n_lines;
        while (n > first && lens[n - 1] == 0)
            n--;  /* trailing blank lines */
        st = check_merge_lines(merges_path, lines, lens, first, n);
    }
    if (st == MAAS_OK) {
        spec.n_tokens = n_tokens;
        spec.tokens = tokens;
        spec.n_merges = n - first;
        spec.merges = (const char *const *)lines + first;
        spec.merge_lens = lens + first;
        st = tok_build(&spec, out);
        /* tok_build's messages about merges start with "merge RANK"; the
         * others concern the vocabulary. */
        unsigned rank;
        if (st != MAAS_OK && sscanf(maas_last_error(), "merge %u", &rank) == 1) {
            char where[4200];
            snprintf(where, sizeof where, "%s line %u", merges_path, rank + first + 1);
            st = prefix_error(st, where);
        } else if (st != MAAS_OK) {
            st = prefix_error(st, vocab_json_path);
        }
    }

    free(lines);
    free(lens);
    free(tokens);
    cJSON_Delete(root);
    free(json_text);
    free(merges_text);
    return st;
}

maas_status maas_tokenizer_load_wordpiece(const char *vocab_txt_path, bool do_lower_case,
                                          maas_tokenizer **out)
{
    if (!vocab_txt_path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "load_wordpiece needs a path and an output pointer");
    char *text = NULL;
    size_t len;
    char **lines = NULL;
    uint32_t *lens = NULL, n = 0;
    maas_status st = read_whole_file(vocab_txt_path, &text, &len);
    if (st == MAAS_OK)
        st = split_lines(text, len, &lines, &lens, &n);
    if (st == MAAS_OK) {
        tok_spec spec;
        tok_spec_defaults(&spec, MAAS_TOKENIZER_WORDPIECE);
        spec.n_tokens = n;
        spec.tokens = (const char *const *)lines;
        spec.token_lens = lens;
        spec.do_lower_case = do_lower_case;
        spec.strip_accents = do_lower_case;
        st = tok_build(&spec, out);
        if (st != MAAS_OK)
            st = prefix_error(st, vocab_txt_path);
    }
    free(lines);
    free(lens);
    free(text);
    return st;
}
