/* FAQ matching: parse a Q:/A: file, embed its questions once (with an
 * on-disk cache), find the entries closest to a customer question. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert/bert_internal.h"
#include "internal.h"
#include "maas/faq.h"

/* Cache file: faq_cache_header, the embeddings [n_questions, dim] as f32,
 * then the FNV-1a hash of the embeddings' bytes (u64), all in host byte
 * order.  Version 2 added the hash. */
#define FAQ_CACHE_MAGIC "MAASFAQ2"

/* How far a cached embedding's L2 norm may be from 1 (they are stored
 * normalised, and f32 rounding stays far below this). */
#define FAQ_CACHE_NORM_TOLERANCE 1e-3

typedef struct faq_entry {
    int first_question;  /* index into questions */
    int n_questions;
    char *answer;
    int answer_line;     /* line number of the "A:" line, for messages */
} faq_entry;

struct maas_faq {
    char *path;
    uint64_t text_hash;   /* FNV-1a of the file's bytes */
    faq_entry *entries;
    int n_entries;
    char **questions;     /* [n_questions], NUL-terminated */
    int n_questions;
    float *embeddings;    /* [n_questions, dim], unit length; NULL until embedded */
    int dim;
    bool truncate;        /* cut questions over the model's limit instead of failing */
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

/* ---- parsing ---- */

static char *trimmed_copy(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

/* Appends " line" to *answer. */
static maas_status append_line(char **answer, const char *line, size_t n)
{
    char *part = trimmed_copy(line, n);
    if (!part)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
    size_t old = strlen(*answer), add = strlen(part);
    char *grown = realloc(*answer, old + add + 2);
    if (!grown) {
        free(part);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
    }
    if (old > 0 && add > 0)
        grown[old++] = ' ';
    memcpy(grown + old, part, add + 1);
    free(part);
    *answer = grown;
    return MAAS_OK;
}

static maas_status add_question(maas_faq *faq, const char *text, size_t n)
{
    char **grown = realloc(faq->questions, (size_t)(faq->n_questions + 1) * sizeof *grown);
    if (!grown)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
    faq->questions = grown;
    faq->questions[faq->n_questions] = trimmed_copy(text, n);
    if (!faq->questions[faq->n_questions])
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
    faq->n_questions++;
    return MAAS_OK;
}

static maas_status parse_faq(maas_faq *faq, const char *text, size_t len)
{
    int pending_first = -1;  /* first question of the entry being read */
    bool in_answer = false;
    int line_no = 0, question_line = 0;
    const char *p = text, *end = text + len;
    maas_status st;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        line_no++;

        /* Skip leading blanks to classify the line. */
        const char *s = p;
        while (s < line_end && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        bool blank = s == line_end;

        if (blank) {
            if (pending_first >= 0 && pending_first < faq->n_questions)
                return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: the question \"%s\" has no \"A:\" "
                                 "answer before the blank line; add one or remove the question",
                                 faq->path, question_line, faq->questions[faq->n_questions - 1]);
            in_answer = false;
        } else if (*s == '#') {
            /* a comment */
        } else if (line_end - s >= 2 && (s[0] == 'Q' || s[0] == 'q') && s[1] == ':') {
            if (in_answer || pending_first < 0)
                pending_first = faq->n_questions;
            in_answer = false;
            question_line = line_no;
            if ((st = add_question(faq, s + 2, (size_t)(line_end - s - 2))) != MAAS_OK)
                return st;
            if (faq->questions[faq->n_questions - 1][0] == '\0')
                return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: the \"Q:\" line has no question text",
                                 faq->path, line_no);
        } else if (line_end - s >= 2 && (s[0] == 'A' || s[0] == 'a') && s[1] == ':') {
            if (pending_first < 0 || pending_first == faq->n_questions)
                return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: an \"A:\" answer without a \"Q:\" "
                                 "question before it", faq->path, line_no);
            faq_entry *grown = realloc(faq->entries, (size_t)(faq->n_entries + 1) * sizeof *grown);
            if (!grown)
                return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
            faq->entries = grown;
            faq_entry *e = &faq->entries[faq->n_entries++];
            e->first_question = pending_first;
            e->n_questions = faq->n_questions - pending_first;
            e->answer_line = line_no;
            e->answer = calloc(1, 1);
            if (!e->answer)
                return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading a FAQ");
            if ((st = append_line(&e->answer, s + 2, (size_t)(line_end - s - 2))) != MAAS_OK)
                return st;
            pending_first = faq->n_questions;
            in_answer = true;
        } else if (in_answer) {
            if ((st = append_line(&faq->entries[faq->n_entries - 1].answer, p, n)) != MAAS_OK)
                return st;
        } else {
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: expected a line starting with \"Q:\", "
                             "\"A:\" or \"#\", or a blank line", faq->path, line_no);
        }
        p = nl ? nl + 1 : end;
    }

    if (pending_first >= 0 && pending_first < faq->n_questions)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: the last question (\"%s\") has no \"A:\" answer",
                         faq->path, question_line, faq->questions[faq->n_questions - 1]);
    for (int i = 0; i < faq->n_entries; i++) {
        if (faq->entries[i].answer[0] == '\0')
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s:%d: the \"A:\" answer is empty; write the "
                             "answer after \"A:\" or on the lines below it",
                             faq->path, faq->entries[i].answer_line);
    }
    if (faq->n_entries == 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: no FAQ entries (\"Q:\" lines followed by an \"A:\" line)",
                         faq->path);
    return MAAS_OK;
}

maas_status maas_faq_load(const char *path, maas_faq **out)
{
    if (!path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_faq_load: path and out must not be NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return maas_fail(MAAS_ERR_IO, "cannot open the FAQ file %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    errno = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(fp);
                return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int read_errno = errno;
    bool failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(text);
        return maas_fail(MAAS_ERR_IO, "cannot read the FAQ file %s: %s", path, strerror(read_errno));
    }

    maas_faq *faq = calloc(1, sizeof *faq);
    if (!faq || !(faq->path = strdup(path))) {
        free(faq);
        free(text);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
    }
    faq->text_hash = fnv1a(FNV_OFFSET, text, len);
    maas_status st = parse_faq(faq, text, len);
    free(text);
    if (st != MAAS_OK) {
        maas_faq_free(faq);
        return st;
    }
    *out = faq;
    return MAAS_OK;
}

void maas_faq_free(maas_faq *faq)
{
    if (!faq)
        return;
    for (int i = 0; i < faq->n_entries; i++)
        free(faq->entries[i].answer);
    for (int i = 0; i < faq->n_questions; i++)
        free(faq->questions[i]);
    free(faq->entries);
    free(faq->questions);
    free(faq->embeddings);
    free(faq->path);
    free(faq);
}

void maas_faq_set_truncate(maas_faq *faq, bool truncate)
{
    if (faq)
        faq->truncate = truncate;
}

int maas_faq_count(const maas_faq *faq)
{
    return faq->n_entries;
}

int maas_faq_question_count(const maas_faq *faq, int entry)
{
    if (entry < 0 || entry >= faq->n_entries)
        return 0;
    return faq->entries[entry].n_questions;
}

const char *maas_faq_question(const maas_faq *faq, int entry, int question)
{
    if (entry < 0 || entry >= faq->n_entries || question < 0 ||
        question >= faq->entries[entry].n_questions)
        return NULL;
    return faq->questions[faq->entries[entry].first_question + question];
}

const char *maas_faq_answer(const maas_faq *faq, int entry)
{
    if (entry < 0 || entry >= faq->n_entries)
        return NULL;
    return faq->entries[entry].answer;
}

/* ---- embeddings and the cache ---- */

/* Identifies the model: its file's path, size and modification time, and
 * the pooling used. */
static uint64_t model_hash(const maas_bert *m)
{
    const char *path = maas_file_path(m->file);
    uint64_t h = fnv1a(FNV_OFFSET, path, strlen(path));
    struct stat sb;
    if (stat(path, &sb) == 0) {
        int64_t facts[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec};
        h = fnv1a(h, facts, sizeof facts);
    }
    int32_t pooling = (int32_t)m->config.pooling;
    return fnv1a(h, &pooling, sizeof pooling);
}

typedef struct faq_cache_header {
    char magic[8];
    uint64_t text_hash;
    uint64_t model_hash;
    uint32_t n_questions;
    uint32_t dim;
} faq_cache_header;

/* Checks cached embeddings: each value finite and each row of unit L2
 * norm.  Returns NULL when valid, else the reason. */
static const char *invalid_embeddings(const float *emb, size_t n_rows, int dim)
{
    for (size_t r = 0; r < n_rows; r++) {
        double norm2 = 0.0;
        for (int c = 0; c < dim; c++) {
            float v = emb[r * (size_t)dim + (size_t)c];
            if (!isfinite(v))
                return "a value is not finite";
            norm2 += (double)v * v;
        }
        if (fabs(sqrt(norm2) - 1.0) > FAQ_CACHE_NORM_TOLERANCE)
            return "an embedding does not have unit length";
    }
    return NULL;
}

/* Reads the cache into faq->embeddings.  Returns false, so the caller
 * rebuilds it, when the file is missing or made from another FAQ text or
 * model, and also (with a warning) when its embeddings are damaged. */
static bool read_cache(maas_faq *faq, const char *path, const faq_cache_header *want)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    faq_cache_header got;
    bool ok = fread(&got, sizeof got, 1, fp) == 1 && memcmp(&got, want, sizeof got) == 0;
    if (!ok) {
        fclose(fp);
        return false;
    }

    size_t n = (size_t)want->n_questions * want->dim;
    uint64_t stored_hash = 0;
    const char *reason = NULL;
    if (fread(faq->embeddings, sizeof(float), n, fp) != n ||
        fread(&stored_hash, sizeof stored_hash, 1, fp) != 1)
        reason = "the file is shorter than its header says";
    else if (fgetc(fp) != EOF)
        reason = "the file has bytes after the embeddings";
    else if (fnv1a(FNV_OFFSET, faq->embeddings, n * sizeof(float)) != stored_hash)
        reason = "the checksum does not match";
    else
        reason = invalid_embeddings(faq->embeddings, want->n_questions, (int)want->dim);
    fclose(fp);
    if (reason) {
        maas_log(MAAS_LOG_WARN, "the FAQ embedding cache %s is invalid (%s); embedding the "
                 "questions again", path, reason);
        return false;
    }
    return true;
}

static void write_cache(const maas_faq *faq, const char *path, const faq_cache_header *header)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        maas_log(MAAS_LOG_WARN, "cannot write the FAQ embedding cache %s: %s", tmp, strerror(errno));
        return;
    }
    size_t n = (size_t)header->n_questions * header->dim;
    uint64_t hash = fnv1a(FNV_OFFSET, faq->embeddings, n * sizeof(float));
    bool ok = fwrite(header, sizeof *header, 1, fp) == 1 &&
              fwrite(faq->embeddings, sizeof(float), n, fp) == n &&
              fwrite(&hash, sizeof hash, 1, fp) == 1;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        maas_log(MAAS_LOG_WARN, "cannot write the FAQ embedding cache %s", path);
        remove(tmp);
    }
}

maas_status maas_faq_embed(maas_faq *faq, maas_bert_context *ctx, const char *cache_path,
                           bool *from_cache)
{
    if (!faq || !ctx)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_faq_embed: faq and ctx must not be NULL");
    const maas_bert *m = ctx->model;
    const int dim = m->config.hidden_size;
    float *emb = malloc((size_t)faq->n_questions * (size_t)dim * sizeof(float));
    if (!emb)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for %d FAQ embeddings", faq->n_questions);
    free(faq->embeddings);
    faq->embeddings = emb;
    faq->dim = dim;
    if (from_cache)
        *from_cache = false;

    faq_cache_header header;
    memset(&header, 0, sizeof header);
    memcpy(header.magic, FAQ_CACHE_MAGIC, 8);
    header.text_hash = faq->text_hash;
    header.model_hash = model_hash(m);
    header.n_questions = (uint32_t)faq->n_questions;
    header.dim = (uint32_t)dim;
    if (cache_path && read_cache(faq, cache_path, &header)) {
        if (from_cache)
            *from_cache = true;
        return MAAS_OK;
    }

    maas_embed_options o;
    maas_embed_options_default(m, &o);
    o.normalize = true;
    o.truncate = faq->truncate;
    maas_status st = maas_bert_embed(ctx, (const char *const *)faq->questions, faq->n_questions, &o, emb);
    if (st != MAAS_OK) {
        free(faq->embeddings);
        faq->embeddings = NULL;
        return st;
    }
    if (cache_path)
        write_cache(faq, cache_path, &header);
    return MAAS_OK;
}

maas_status maas_faq_search(const maas_faq *faq, maas_bert_context *ctx, const char *query, int k,
                            maas_faq_match *out, int *n_out)
{
    if (!faq || !ctx || !query || !out || !n_out || k < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_faq_search: NULL argument or k < 1");
    if (!faq->embeddings || faq->dim != ctx->model->config.hidden_size)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_faq_search: call maas_faq_embed with a "
                         "context of this model first");
    if (query[0] == '\0')
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_faq_search: the question is empty");

    /* Embed the question, unit length, so a dot product is the cosine. */
    const int dim = faq->dim;
    float *q = malloc((size_t)dim * sizeof(float));
    if (!q)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory embedding a question");
    maas_embed_options o;
    maas_embed_options_default(ctx->model, &o);
    o.normalize = true;
    o.truncate = faq->truncate;
    maas_status st = maas_bert_embed(ctx, &query, 1, &o, q);
    if (st != MAAS_OK) {
        free(q);
        return st;
    }

    /* Each entry scores its best question; keep the k best entries. */
    int n = 0;
    for (int e = 0; e < faq->n_entries; e++) {
        maas_faq_match best = {e, 0, -2.0f};
        for (int j = 0; j < faq->entries[e].n_questions; j++) {
            const float *v = faq->embeddings + (size_t)(faq->entries[e].first_question + j) * dim;
            double dot = 0.0;
            for (int c = 0; c < dim; c++)
                dot += (double)q[c] * v[c];
            if (dot > best.similarity) {
                best.similarity = (float)dot;
                best.question = j;
            }
        }
        int pos = n < k ? n : k;
        while (pos > 0 && out[pos - 1].similarity < best.similarity)
            pos--;
        if (pos >= k)
            continue;
        int last = n < k ? n : k - 1;
        memmove(out + pos + 1, out + pos, (size_t)(last - pos) * sizeof *out);
        out[pos] = best;
        if (n < k)
            n++;
    }
    free(q);
    *n_out = n;
    return MAAS_OK;
}
