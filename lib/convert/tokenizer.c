/* Tokenizer files to "tokenizer." keys: GPT-2 byte-level BPE (vocab.json +
 * merges.txt, or tokenizer.json) and BERT WordPiece (vocab.txt, or
 * tokenizer.json) with the settings of tokenizer_config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/converter.h"
#include "internal.h"
#include "jsonfile.h"

/* A list of owned strings; element i of a vocabulary is the token of id i. */
typedef struct str_list {
    char **items;
    uint32_t *lens;
    uint32_t count, cap;
} str_list;

static void list_free(str_list *l)
{
    for (uint32_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    free(l->lens);
    memset(l, 0, sizeof *l);
}

/* Grows the list to `count` entries (new ones NULL). */
static maas_status list_resize(str_list *l, uint32_t count)
{
    if (count > l->cap) {
        uint32_t cap = l->cap ? l->cap : 256;
        while (cap < count)
            cap = cap > UINT32_MAX / 2 ? count : cap * 2;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (items)
            l->items = items;
        uint32_t *lens = realloc(l->lens, (size_t)cap * sizeof *lens);
        if (lens)
            l->lens = lens;
        if (!items || !lens)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow a token list to %u", count);
        l->cap = cap;
    }
    for (uint32_t i = l->count; i < count; i++) {
        l->items[i] = NULL;
        l->lens[i] = 0;
    }
    l->count = count;
    return MAAS_OK;
}

static maas_status list_set(str_list *l, uint32_t i, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot copy a token");
    memcpy(copy, s, len);
    copy[len] = '\0';
    free(l->items[i]);
    l->items[i] = copy;
    l->lens[i] = (uint32_t)len;
    return MAAS_OK;
}

static maas_status list_push(str_list *l, const char *s, size_t len)
{
    maas_status st = list_resize(l, l->count + 1);
    return st == MAAS_OK ? list_set(l, l->count - 1, s, len) : st;
}

/* Returns the id of `token`: the last entry that equals it, as a Python
 * dict built from the file in order would give, or -1. */
static int32_t list_find(const str_list *l, const char *token)
{
    for (uint32_t i = l->count; i-- > 0;)
        if (l->items[i] && strcmp(l->items[i], token) == 0)
            return (int32_t)i;
    return -1;
}

/* A sorted copy of a vocabulary's tokens, for lookups by string. */
typedef struct token_index {
    const char **sorted;
    uint32_t count;
} token_index;

static int compare_tokens(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static maas_status index_build(const str_list *v, token_index *index)
{
    index->count = 0;
    index->sorted = malloc(((size_t)v->count + 1) * sizeof *index->sorted);
    if (!index->sorted)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot index %u tokens", v->count);
    for (uint32_t i = 0; i < v->count; i++)
        if (v->items[i])
            index->sorted[index->count++] = v->items[i];
    qsort(index->sorted, index->count, sizeof *index->sorted, compare_tokens);
    return MAAS_OK;
}

static bool index_has(const token_index *index, const char *token)
{
    return bsearch(&token, index->sorted, index->count, sizeof *index->sorted,
                   compare_tokens) != NULL;
}

/* ---- files ------------------------------------------------------------- */

typedef struct tok_files {
    char config_path[4096];
    char json_path[4096];
    cJSON *config;     /* tokenizer_config.json, or NULL when absent */
    cJSON *tokenizer;  /* tokenizer.json, or NULL when absent */
} tok_files;

static maas_status read_optional_json(const char *path, cJSON **out)
{
    *out = NULL;
    if (!maas_path_exists(path))
        return MAAS_OK;
    return maas_json_read_file(path, out);
}

static maas_status files_open(maas_cv *cv, tok_files *f)
{
    memset(f, 0, sizeof *f);
    maas_cv_path(cv, f->config_path, sizeof f->config_path, "tokenizer_config.json");
    maas_cv_path(cv, f->json_path, sizeof f->json_path, "tokenizer.json");
    maas_status s = read_optional_json(f->config_path, &f->config);
    if (s == MAAS_OK)
        s = read_optional_json(f->json_path, &f->tokenizer);
    if (s == MAAS_OK && f->config && !cJSON_IsObject(f->config))
        s = maas_fail(MAAS_ERR_BAD_JSON, "%s is not a JSON object", f->config_path);
    if (s == MAAS_OK && f->tokenizer && !cJSON_IsObject(f->tokenizer))
        s = maas_fail(MAAS_ERR_BAD_JSON, "%s is not a JSON object", f->json_path);
    return s;
}

static void files_close(tok_files *f)
{
    cJSON_Delete(f->config);
    cJSON_Delete(f->tokenizer);
}

/* Fills `v` from a JSON object token -> id whose ids are exactly 0..n-1. */
static maas_status vocab_from_object(const cJSON *obj, const char *what, str_list *v)
{
    if (!cJSON_IsObject(obj))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: the vocabulary is not a JSON object", what);
    int n = cJSON_GetArraySize(obj);
    maas_status s = list_resize(v, (uint32_t)n);
    for (const cJSON *e = obj->child; e && s == MAAS_OK; e = e->next) {
        if (!maas_json_is_int(e, 0, (double)n - 1))
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: token \"%.64s\" has id %.0f, but the %d "
                             "ids must be 0 to %d", what, e->string,
                             cJSON_IsNumber(e) ? e->valuedouble : -1.0, n, n - 1);
        uint32_t id = (uint32_t)e->valuedouble;
        if (v->items[id])
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tokens \"%.64s\" and \"%.64s\" share "
                             "id %u", what, v->items[id], e->string, id);
        s = list_set(v, id, e->string, strlen(e->string));
    }
    return s;
}

/* Appends tokenizer.json's "added_tokens" whose ids follow the vocabulary
 * (ids inside it must name the same token). */
static maas_status add_added_tokens(const tok_files *f, str_list *v)
{
    const cJSON *added = f->tokenizer ? cJSON_GetObjectItemCaseSensitive(f->tokenizer,
                                                                         "added_tokens") : NULL;
    if (!added)
        return MAAS_OK;
    if (!cJSON_IsArray(added))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"added_tokens\" is not an array", f->json_path);

    /* Repeated passes place ids in order even when the array is not sorted. */
    uint32_t base = v->count;
    int n = cJSON_GetArraySize(added);
    for (int pass = 0; pass < n; pass++) {
        bool grew = false;
        for (const cJSON *t = added->child; t; t = t->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(t, "content");
            if (!maas_json_is_int(id, 0, INT32_MAX) || !cJSON_IsString(content))
                return maas_fail(MAAS_ERR_BAD_JSON, "%s: each added token needs an integer "
                                 "\"id\" and a string \"content\"", f->json_path);
            uint32_t i = (uint32_t)id->valuedouble;
            if (i < base && pass == 0 && v->items[i] && strcmp(v->items[i], content->valuestring))
                return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: added token \"%.64s\" has id %u, "
                                 "which the vocabulary gives to \"%.64s\"", f->json_path,
                                 content->valuestring, i, v->items[i]);
            if (i == v->count) {
                maas_status s = list_push(v, content->valuestring, strlen(content->valuestring));
                if (s != MAAS_OK)
                    return s;
                grew = true;
            }
        }
        if (!grew)
            break;
    }
    for (const cJSON *t = added->child; t; t = t->next) {
        uint32_t i = (uint32_t)cJSON_GetObjectItemCaseSensitive(t, "id")->valuedouble;
        if (i >= v->count)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: added token id %u leaves a gap after the "
                             "%u-token vocabulary", f->json_path, i, v->count);
    }
    return MAAS_OK;
}

/* Returns the special-token string for `key` ("eos_token", ...) from
 * tokenizer_config.json (a string or {"content": ...}), else `fallback`. */
static const char *special_token(const tok_files *f, const char *key, const char *fallback)
{
    const cJSON *item = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, key) : NULL;
    if (cJSON_IsObject(item))
        item = cJSON_GetObjectItemCaseSensitive(item, "content");
    return cJSON_IsString(item) ? item->valuestring : fallback;
}

/* Writes "tokenizer.<name>_id" when the vocabulary has the special token. */
static maas_status write_special(maas_cv *cv, const tok_files *f, const str_list *v,
                                 const char *name, const char *fallback)
{
    char key[64], id_key[64];
    snprintf(key, sizeof key, "%s_token", name);
    int32_t id = list_find(v, special_token(f, key, fallback));
    if (id < 0)
        return MAAS_OK;
    snprintf(id_key, sizeof id_key, "tokenizer.%s_id", name);
    return maas_writer_set_i32(cv->w, id_key, id);
}

/* Writes the vocabulary, "tokenizer.model_max_length" when
 * tokenizer_config.json gives a real limit, and checks the size. */
static maas_status write_vocab(maas_cv *cv, const tok_files *f, const str_list *v,
                               uint32_t vocab_size, const char *source)
{
    if (v->count > vocab_size)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH, "%s has %u tokens but config.json's "
                         "vocab_size is %u, so some ids have no embedding", source, v->count,
                         vocab_size);
    maas_status s = maas_writer_set_str_array(cv->w, "tokenizer.tokens",
                                              (const char *const *)v->items, v->lens, v->count);
    if (s != MAAS_OK)
        return s;
    cv->summary->n_tokens = v->count;

    /* Hugging Face writes a huge placeholder (about 1e30) when there is no limit. */
    const cJSON *max_len = f->config ? cJSON_GetObjectItemCaseSensitive(f->config,
                                                                        "model_max_length") : NULL;
    if (maas_json_is_int(max_len, 1, UINT32_MAX))
        s = maas_writer_set_u32(cv->w, "tokenizer.model_max_length",
                                (uint32_t)max_len->valuedouble);
    return s;
}

/* Splits text into lines at '\n', dropping one trailing '\r' per line
 * and the empty piece after a final newline.  Lines are NUL-terminated in
 * place; `visit` gets each with its 1-based number. */
static maas_status split_lines(char *text, size_t len,
                               maas_status (*visit)(void *ctx, char *line, size_t n, size_t no),
                               void *ctx)
{
    size_t start = 0, no = 1;
    while (start < len) {
        char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - start;
        if (n > 0 && text[start + n - 1] == '\r')
            n--;
        text[start + n] = '\0';
        maas_status s = visit(ctx, text + start, n, no++);
        if (s != MAAS_OK)
            return s;
        start = end + 1;
    }
    return MAAS_OK;
}

/* ---- GPT-2 byte-level BPE ------------------------------------------------ */

typedef struct merges_ctx {
    str_list *merges;
    const char *path;
    uint32_t *line_numbers;  /* [merges->count]: the merges.txt line of each merge */
    uint32_t line_cap;
} merges_ctx;

/* One merges.txt line: "left right"; the "#version" header and blank lines
 * are skipped, as Hugging Face's tokenizers do. */
static maas_status visit_merge(void *ctx, char *line, size_t n, size_t no)
{
    merges_ctx *m = ctx;
    if (n == 0 || (no == 1 && strncmp(line, "#version", 8) == 0))
        return MAAS_OK;
    const char *space = memchr(line, ' ', n);
    if (!space || space == line || space == line + n - 1 || memchr(space + 1, ' ', n - (size_t)(space - line) - 1))
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s line %zu: expected two tokens separated by "
                         "one space, got \"%.64s\"", m->path, no, line);
    if (m->merges->count == m->line_cap) {
        uint32_t cap = m->line_cap ? m->line_cap * 2 : 256;
        uint32_t *grown = realloc(m->line_numbers, (size_t)cap * sizeof *grown);
        if (!grown)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow the merge list to %u", cap);
        m->line_numbers = grown;
        m->line_cap = cap;
    }
    m->line_numbers[m->merges->count] = (uint32_t)no;
    return list_push(m->merges, line, n);
}

/* model.merges of tokenizer.json: "left right" strings or [left, right] pairs. */
static maas_status merges_from_json(const cJSON *arr, const char *path, str_list *merges)
{
    if (!cJSON_IsArray(arr))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: model.merges is not an array", path);
    for (const cJSON *e = arr->child; e; e = e->next) {
        maas_status s;
        if (cJSON_IsString(e)) {
            s = list_push(merges, e->valuestring, strlen(e->valuestring));
        } else if (cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            size_t a = strlen(e->child->valuestring), b = strlen(e->child->next->valuestring);
            char *joined = malloc(a + b + 2);
            if (!joined)
                return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot join a merge");
            memcpy(joined, e->child->valuestring, a);
            joined[a] = ' ';
            memcpy(joined + a + 1, e->child->next->valuestring, b + 1);
            s = list_push(merges, joined, a + b + 1);
            free(joined);
        } else {
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: model.merges entries must be \"a b\" "
                             "strings or [a, b] pairs", path);
        }
        if (s != MAAS_OK)
            return s;
    }
    return MAAS_OK;
}

/* Returns tokenizer.json's "model" object when its type is `type`. */
static const cJSON *tokenizer_model(const tok_files *f, const char *type)
{
    const cJSON *model = f->tokenizer ? cJSON_GetObjectItemCaseSensitive(f->tokenizer, "model")
                                      : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(model, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0 ? model : NULL;
}

static maas_status read_bpe(maas_cv *cv, const tok_files *f, str_list *vocab,
                            str_list *merges, uint32_t **merge_lines, const char **source)
{
    char vocab_path[4096], merges_path[4096];
    maas_cv_path(cv, vocab_path, sizeof vocab_path, "vocab.json");
    maas_cv_path(cv, merges_path, sizeof merges_path, "merges.txt");

    if (maas_path_exists(vocab_path) && maas_path_exists(merges_path)) {
        *source = "vocab.json";
        cJSON *json;
        maas_status s = maas_json_read_file(vocab_path, &json);
        if (s != MAAS_OK)
            return s;
        s = vocab_from_object(json, vocab_path, vocab);
        cJSON_Delete(json);
        if (s != MAAS_OK)
            return s;
        char *text;
        size_t len;
        s = maas_read_file(merges_path, MAAS_JSON_MAX_FILE, &text, &len);
        if (s != MAAS_OK)
            return s;
        merges_ctx ctx = {merges, merges_path, NULL, 0};
        s = split_lines(text, len, visit_merge, &ctx);
        free(text);
        *merge_lines = ctx.line_numbers;
        return s;
    }

    const cJSON *model = tokenizer_model(f, "BPE");
    if (!model)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: no GPT-2 tokenizer: expected vocab.json and "
                         "merges.txt, or a tokenizer.json with a BPE model", cv->dir);
    *source = "tokenizer.json";
    maas_status s = vocab_from_object(cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                                      f->json_path, vocab);
    if (s == MAAS_OK)
        s = merges_from_json(cJSON_GetObjectItemCaseSensitive(model, "merges"), f->json_path,
                             merges);
    return s;
}

/* Writes GPT-2's byte-level spelling of byte b to out (NUL-terminated):
 * bytes that are printable in Latin-1 ('!'..'~', '\xa1'..'\xac',
 * '\xae'..'\xff') stand for themselves, and the other 68 map in order to
 * U+0100 onwards, as bytes_to_unicode in OpenAI's encoder.py does. */
static void byte_token(int b, char out[4])
{
    int cp = b;
    bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    if (!printable) {
        int shift = 0;
        for (int k = 0; k < b; k++)
            shift += !((k >= 0x21 && k <= 0x7e) || (k >= 0xa1 && k <= 0xac) || k >= 0xae);
        cp = 0x100 + shift;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = '\0';
    }
}

/* Checks what the byte-level BPE tokenizer needs when the model loads:
 * a token for each of the 256 bytes, and merges whose two parts and
 * result are all tokens. */
static maas_status check_bpe(const str_list *vocab, const str_list *merges,
                             const uint32_t *merge_lines, const char *vocab_source,
                             const char *merges_source)
{
    token_index index;
    maas_status s = index_build(vocab, &index);
    if (s != MAAS_OK)
        return s;
    for (int b = 0; b < 256 && s == MAAS_OK; b++) {
        char token[4];
        byte_token(b, token);
        if (!index_has(&index, token))
            s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: the vocabulary has no token \"%s\" for "
                          "byte 0x%02x; a byte-level BPE vocabulary needs all 256 byte tokens",
                          vocab_source, token, b);
    }

    char *joined = NULL;
    size_t joined_cap = 0;
    for (uint32_t r = 0; r < merges->count && s == MAAS_OK; r++) {
        const char *m = merges->items[r];
        const char *space = strchr(m, ' ');
        char where[48];
        if (merge_lines)
            snprintf(where, sizeof where, "line %u", merge_lines[r]);
        else
            snprintf(where, sizeof where, "merge %u", r + 1);
        if (!space || space == m || strchr(space + 1, ' ') || space[1] == '\0') {
            s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s %s: \"%.64s\" is not two tokens "
                          "separated by one space", merges_source, where, m);
            break;
        }
        size_t left_len = (size_t)(space - m), len = strlen(m);
        if (len + 1 > joined_cap) {
            char *grown = realloc(joined, len + 1);
            if (!grown) {
                s = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot check merge %u", r + 1);
                break;
            }
            joined = grown;
            joined_cap = len + 1;
        }

        /* The left part, the right part, then the two joined. */
        const char *missing = NULL;
        memcpy(joined, m, left_len);
        joined[left_len] = '\0';
        if (!index_has(&index, joined))
            missing = "its left token";
        else if (!index_has(&index, space + 1))
            missing = "its right token";
        memcpy(joined + left_len, space + 1, len - left_len);
        if (!missing && !index_has(&index, joined))
            missing = "the merged token";
        if (missing)
            s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s %s: merge \"%.64s\": %s is not in the "
                          "vocabulary %s", merges_source, where, m, missing, vocab_source);
    }
    free(joined);
    free(index.sorted);
    return s;
}

maas_status maas_cv_tokenizer_bpe(maas_cv *cv, uint32_t vocab_size)
{
    tok_files f;
    str_list vocab = {0}, merges = {0};
    uint32_t *merge_lines = NULL;  /* stays NULL for tokenizer.json merges */
    const char *source = "";
    maas_status s = files_open(cv, &f);
    if (s == MAAS_OK)
        s = read_bpe(cv, &f, &vocab, &merges, &merge_lines, &source);
    if (s == MAAS_OK)
        s = add_added_tokens(&f, &vocab);
    if (s == MAAS_OK)
        s = check_bpe(&vocab, &merges, merge_lines, source,
                      strcmp(source, "vocab.json") == 0 ? "merges.txt" : source);
    if (s == MAAS_OK)
        s = maas_writer_set_str(cv->w, "tokenizer.model", "gpt2-bpe");
    if (s == MAAS_OK)
        s = write_vocab(cv, &f, &vocab, vocab_size, source);
    if (s == MAAS_OK)
        s = maas_writer_set_str_array(cv->w, "tokenizer.merges",
                                      (const char *const *)merges.items, merges.lens,
                                      merges.count);
    if (s == MAAS_OK)
        s = write_special(cv, &f, &vocab, "eos", "<|endoftext|>");
    free(merge_lines);
    list_free(&vocab);
    list_free(&merges);
    files_close(&f);
    return s;
}

/* ---- BERT WordPiece ------------------------------------------------------ */

/* One vocab.txt line is one token (Hugging Face strips only the newline;
 * a '\r' before it is dropped too, for files saved with CRLF endings). */
static maas_status visit_vocab_line(void *ctx, char *line, size_t n, size_t no)
{
    (void)no;
    return list_push(ctx, line, n);
}

/* Reads a bool setting from tokenizer_config.json, else from tokenizer.json's
 * BertNormalizer.  Returns false when neither has it (null counts as absent). */
static bool read_setting(const tok_files *f, const char *config_key, const char *normalizer_key,
                         bool *out)
{
    const cJSON *item = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, config_key)
                                  : NULL;
    if (!item && f->tokenizer) {
        const cJSON *norm = cJSON_GetObjectItemCaseSensitive(f->tokenizer, "normalizer");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "BertNormalizer") == 0)
            item = cJSON_GetObjectItemCaseSensitive(norm, normalizer_key);
    }
    if (!cJSON_IsBool(item))
        return false;
    *out = cJSON_IsTrue(item);
    return true;
}

maas_status maas_cv_tokenizer_wordpiece(maas_cv *cv, uint32_t vocab_size)
{
    tok_files f;
    str_list vocab = {0};
    char path[4096];
    const char *source = "vocab.txt";
    maas_status s = files_open(cv, &f);

    /* The vocabulary: vocab.txt, else tokenizer.json's WordPiece model. */
    maas_cv_path(cv, path, sizeof path, "vocab.txt");
    if (s == MAAS_OK && maas_path_exists(path)) {
        char *text;
        size_t len;
        s = maas_read_file(path, MAAS_JSON_MAX_FILE, &text, &len);
        if (s == MAAS_OK) {
            s = split_lines(text, len, visit_vocab_line, &vocab);
            free(text);
        }
    } else if (s == MAAS_OK) {
        const cJSON *model = tokenizer_model(&f, "WordPiece");
        source = "tokenizer.json";
        if (!model)
            s = maas_fail(MAAS_ERR_NOT_FOUND, "%s: no BERT tokenizer: expected vocab.txt or a "
                          "tokenizer.json with a WordPiece model", cv->dir);
        else
            s = vocab_from_object(cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                                  f.json_path, &vocab);
    }
    if (s == MAAS_OK)
        s = add_added_tokens(&f, &vocab);
    if (s == MAAS_OK && vocab.count == 0)
        s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: %s has no tokens", cv->dir, source);
    const char *unk = special_token(&f, "unk_token", "[UNK]");
    if (s == MAAS_OK && list_find(&vocab, unk) < 0)
        s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: %s has no unknown token \"%.64s\", which "
                      "WordPiece needs for words it cannot split (BERT's is [UNK], id 100)",
                      cv->dir, source, unk);
    if (s == MAAS_OK)
        s = maas_writer_set_str(cv->w, "tokenizer.model", "wordpiece");
    if (s == MAAS_OK)
        s = write_vocab(cv, &f, &vocab, vocab_size, source);

    /* Normalisation settings.  Without any tokenizer config the values are
     * those of Hugging Face's BertTokenizer defaults (lower case, split
     * Chinese characters); strip_accents stays absent ("as do_lower_case"). */
    bool lower = true, chinese = true, accents;
    if (s == MAAS_OK) {
        if (!read_setting(&f, "do_lower_case", "lowercase", &lower))
            maas_log(MAAS_LOG_WARN, "%s: no do_lower_case setting; using true", cv->dir);
        read_setting(&f, "tokenize_chinese_chars", "handle_chinese_chars", &chinese);
        s = maas_writer_set_bool(cv->w, "tokenizer.do_lower_case", lower);
    }
    if (s == MAAS_OK)
        s = maas_writer_set_bool(cv->w, "tokenizer.tokenize_chinese_chars", chinese);
    if (s == MAAS_OK && read_setting(&f, "strip_accents", "strip_accents", &accents))
        s = maas_writer_set_bool(cv->w, "tokenizer.strip_accents", accents);

    static const struct {
        const char *name, *fallback;
    } specials[] = {
        {"unk", "[UNK]"}, {"cls", "[CLS]"}, {"sep", "[SEP]"}, {"pad", "[PAD]"}, {"mask", "[MASK]"},
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0] && s == MAAS_OK; i++)
        s = write_special(cv, &f, &vocab, specials[i].name, specials[i].fallback);

    list_free(&vocab);
    files_close(&f);
    return s;
}
