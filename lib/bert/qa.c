/* Extractive question answering with the scoring of Hugging Face's
 * question-answering pipeline (transformers 4.57 QuestionAnsweringPipeline
 * with a fast tokenizer): overlapping windows, per-window softmax over the
 * context tokens and [CLS], spans scored start x end, answers mapped back
 * to the context through the tokenizer's offsets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "bert/bert_internal.h"
#include "internal.h"

/* The logit Hugging Face gives tokens that cannot be part of an answer. */
#define QA_MASKED_LOGIT (-10000.0f)

void maas_qa_options_default(maas_qa_options *opts)
{
    opts->max_seq_len = 0;
    opts->doc_stride = -1;
    opts->max_answer_len = 15;
    opts->top_k = 1;
    opts->handle_impossible_answer = false;
    opts->align_to_words = true;
}

void maas_qa_result_free(maas_qa_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_answers; i++)
        free(r->answers[i].text);
    free(r->answers);
    free(r->first_start_logits);
    free(r->first_end_logits);
    memset(r, 0, sizeof *r);
}

/* One window: context tokens [ctx_begin, ctx_end) of the context encoding. */
typedef struct qa_window {
    int ctx_begin, ctx_end;
    int len;       /* Q + 3 + context tokens */
    long first;    /* first logit of this window in the packed arrays */
} qa_window;

/* A span chosen in one window, in window token indices. */
typedef struct qa_span {
    int start, end;
    float score;
} qa_span;

/* An answer collected over all windows. */
typedef struct qa_candidate {
    int byte_start, byte_end, char_start, char_end;
    double score;
    bool is_null;
} qa_candidate;

typedef struct qa_state {
    const maas_tokenizer *tok;
    const char *context;
    const maas_encoding *ctx_enc;
    const bool *continues_word;   /* [ctx tokens] token starts with "##" */
    int q_len;                    /* question tokens */
    int pre_topk;                 /* spans kept per window */
    maas_qa_options opts;
    qa_candidate *cands;
    int n_cands, cap_cands;
    double min_null_score;
} qa_state;

/* Compares two UTF-8 strings ignoring case, as Python's a.lower() == b.lower()
 * for text without special-cased letters.
 * NOTE: utf8proc maps case one code point at a time, so letters whose
 * lower case is longer (e.g. U+0130) compare differently from Python. */
static bool equal_ignoring_case(const char *a, size_t a_len, const char *b, size_t b_len)
{
    const utf8proc_uint8_t *pa = (const utf8proc_uint8_t *)a, *pb = (const utf8proc_uint8_t *)b;
    utf8proc_ssize_t ia = 0, ib = 0;
    while (ia < (utf8proc_ssize_t)a_len && ib < (utf8proc_ssize_t)b_len) {
        utf8proc_int32_t ca, cb;
        utf8proc_ssize_t na = utf8proc_iterate(pa + ia, (utf8proc_ssize_t)a_len - ia, &ca);
        utf8proc_ssize_t nb = utf8proc_iterate(pb + ib, (utf8proc_ssize_t)b_len - ib, &cb);
        if (na <= 0 || nb <= 0)
            return na == nb && a_len - (size_t)ia == b_len - (size_t)ib &&
                   memcmp(a + ia, b + ib, a_len - (size_t)ia) == 0;
        if (utf8proc_tolower(ca) != utf8proc_tolower(cb))
            return false;
        ia += na;
        ib += nb;
    }
    return ia == (utf8proc_ssize_t)a_len && ib == (utf8proc_ssize_t)b_len;
}

/* Appends an answer to the list. */
static maas_status append_candidate(qa_state *q, qa_candidate c)
{
    if (q->n_cands == q->cap_cands) {
        int cap = q->cap_cands ? 2 * q->cap_cands : 16;
        qa_candidate *grown = realloc(q->cands, (size_t)cap * sizeof *grown);
        if (!grown)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for question-answering candidates");
        q->cands = grown;
        q->cap_cands = cap;
    }
    q->cands[q->n_cands++] = c;
    return MAAS_OK;
}

/* Adds a span's text to the answers, or its score to an answer with the
 * same text, as the pipeline merges answers found in several windows. */
static maas_status add_candidate(qa_state *q, int bs, int be, int cs, int ce, float score)
{
    for (int i = 0; i < q->n_cands; i++) {
        qa_candidate *c = &q->cands[i];
        if (equal_ignoring_case(q->context + c->byte_start, (size_t)(c->byte_end - c->byte_start),
                                q->context + bs, (size_t)(be - bs))) {
            c->score += score;
            return MAAS_OK;
        }
    }
    return append_candidate(q, (qa_candidate){bs, be, cs, ce, score, false});
}

/* Softmax over the tokens marked in `desired`, the others set to the
 * masked logit first, as the pipeline does: p[L] from logits[L]. */
static void masked_softmax(float *p, const float *logits, const bool *desired, int L)
{
    float max = -INFINITY;
    for (int i = 0; i < L; i++) {
        p[i] = desired[i] ? logits[i] : QA_MASKED_LOGIT;
        if (p[i] > max)
            max = p[i];
    }
    double sum = 0.0;
    for (int i = 0; i < L; i++) {
        p[i] = expf(p[i] - max);
        sum += p[i];
    }
    for (int i = 0; i < L; i++)
        p[i] = (float)(p[i] / sum);
}

/* Inserts a span into best[0 .. *n) kept sorted by score (descending, then
 * by start and end, the pipeline's row-major order), at most k entries. */
static void keep_best(qa_span *best, int *n, int k, qa_span span)
{
    int pos = *n;
    while (pos > 0 && best[pos - 1].score < span.score)
        pos--;
    if (pos >= k)
        return;
    int last = *n < k ? *n : k - 1;
    memmove(best + pos + 1, best + pos, (size_t)(last - pos) * sizeof *best);
    best[pos] = span;
    if (*n < k)
        (*n)++;
}

/* Scores the spans of one window and adds its best answers.
 * logits_start/end[L], work[2 L] floats, desired[L], best[pre_topk]. */
static maas_status score_window(qa_state *q, const qa_window *w, const float *logits_start,
                                const float *logits_end, float *work, bool *desired, qa_span *best)
{
    const int L = w->len, ctx0 = q->q_len + 2;  /* window index of the first context token */
    const int n_ctx = w->ctx_end - w->ctx_begin;
    float *ps = work, *pe = work + L;

    /* Only context tokens and [CLS] take part in the softmax. */
    for (int i = 0; i < L; i++)
        desired[i] = i == 0 || (i >= ctx0 && i < ctx0 + n_ctx);
    masked_softmax(ps, logits_start, desired, L);
    masked_softmax(pe, logits_end, desired, L);
    if (q->opts.handle_impossible_answer) {
        double null_score = (double)(ps[0] * pe[0]);
        if (null_score < q->min_null_score)
            q->min_null_score = null_score;
    }
    ps[0] = pe[0] = 0.0f;

    /* Best spans start <= end < start + max_answer_len inside the context. */
    const int k = q->pre_topk;
    int n_best = 0;
    for (int s = ctx0; s < ctx0 + n_ctx; s++) {
        int e_max = s + q->opts.max_answer_len - 1;
        if (e_max > ctx0 + n_ctx - 1)
            e_max = ctx0 + n_ctx - 1;
        for (int e = s; e <= e_max; e++) {
            float score = ps[s] * pe[e];
            if (score > 0.0f)
                keep_best(best, &n_best, k, (qa_span){s, e, score});
        }
    }

    /* Map each span to the context's characters, widened to whole words. */
    const maas_encoding *enc = q->ctx_enc;
    for (int i = 0; i < n_best; i++) {
        int ts = w->ctx_begin + (best[i].start - ctx0);
        int te = w->ctx_begin + (best[i].end - ctx0);
        if (q->opts.align_to_words) {
            while (ts > w->ctx_begin && q->continues_word[ts])
                ts--;
            while (te + 1 < w->ctx_end && q->continues_word[te + 1])
                te++;
        }
        maas_status st = add_candidate(q, enc->byte_start[ts], enc->byte_end[te], enc->char_start[ts],
                                       enc->char_end[te], best[i].score);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

static int compare_candidates(const void *a, const void *b)
{
    const qa_candidate *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return 0;
}

/* Sorts the candidates by score, keeping the order of equal scores as
 * Python's stable sort does, and copies the top_k into the result. */
static maas_status finish_result(qa_state *q, maas_qa_result *out)
{
    /* Insertion sort, which is stable (qsort is not). */
    for (int i = 1; i < q->n_cands; i++) {
        qa_candidate c = q->cands[i];
        int j = i;
        while (j > 0 && compare_candidates(&q->cands[j - 1], &c) > 0) {
            q->cands[j] = q->cands[j - 1];
            j--;
        }
        q->cands[j] = c;
    }

    int n = q->n_cands < q->opts.top_k ? q->n_cands : q->opts.top_k;
    if (n == 0)
        return MAAS_OK;
    out->answers = calloc((size_t)n, sizeof *out->answers);
    if (!out->answers)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for question-answering answers");
    for (int i = 0; i < n; i++) {
        const qa_candidate *c = &q->cands[i];
        maas_qa_answer *a = &out->answers[i];
        size_t len = (size_t)(c->byte_end - c->byte_start);
        a->text = malloc(len + 1);
        if (!a->text)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for an answer of %zu bytes", len);
        memcpy(a->text, q->context + c->byte_start, len);
        a->text[len] = '\0';
        a->start = c->char_start;
        a->end = c->char_end;
        a->byte_start = c->byte_start;
        a->byte_end = c->byte_end;
        a->score = (float)c->score;
        out->n_answers = i + 1;
    }
    return MAAS_OK;
}

static maas_status resolve_options(const maas_bert_context *ctx, const maas_qa_options *in,
                                   maas_qa_options *o)
{
    const int max_positions = ctx->model->config.max_positions;
    if (in)
        *o = *in;
    else
        maas_qa_options_default(o);
    if (o->max_seq_len == 0)
        o->max_seq_len = max_positions < 384 ? max_positions : 384;
    if (o->max_seq_len < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: max_seq_len is %d, expected > 0 (0 for the default)",
                         o->max_seq_len);
    if (o->max_seq_len > max_positions)
        return maas_fail(MAAS_ERR_CONTEXT_FULL,
                         "QA: max_seq_len %d is more than the model's %d positions (max_position_embeddings)",
                         o->max_seq_len, max_positions);
    if (o->max_seq_len > ctx->params.max_seq_len)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "QA: max_seq_len %d is more than the context's max_seq_len %d; create the "
                         "context with a larger one", o->max_seq_len, ctx->params.max_seq_len);
    if (o->doc_stride == -1)
        o->doc_stride = o->max_seq_len / 2 < 128 ? o->max_seq_len / 2 : 128;
    if (o->doc_stride < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "QA: doc_stride is %d, expected >= 0 (-1 for the default)", o->doc_stride);
    if (o->top_k < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: top_k is %d, expected >= 1", o->top_k);
    if (o->max_answer_len < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: max_answer_len is %d, expected >= 1",
                         o->max_answer_len);
    return MAAS_OK;
}

/* Cuts n_ctx context tokens into windows of at most `room` tokens that
 * share `stride` tokens, as the tokenizers library's overflowing encodings
 * do: starts 0, room - stride, 2 (room - stride), ... until one reaches the
 * end.  Returns the number of windows; `w` may be NULL to count. */
static int plan_windows(int n_ctx, int room, int stride, qa_window *w)
{
    if (n_ctx <= room) {
        if (w)
            w[0] = (qa_window){0, n_ctx, 0, 0};
        return 1;
    }
    int n = 0;
    for (int begin = 0;; begin += room - stride) {
        int end = begin + room < n_ctx ? begin + room : n_ctx;
        if (w)
            w[n] = (qa_window){begin, end, 0, 0};
        n++;
        if (end == n_ctx)
            break;
    }
    return n;
}

/* Runs the model on every window, packing as many windows per pass as the
 * context holds.  logits_start/end[sum of window lengths]. */
static maas_status run_windows(maas_bert_context *ctx, const maas_encoding *question,
                               const maas_encoding *context, qa_window *w, int n_windows,
                               float *logits_start, float *logits_end)
{
    const maas_tokenizer *tok = ctx->model->tokenizer;
    const int32_t cls = maas_tokenizer_special_id(tok, MAAS_SPECIAL_CLS);
    const int32_t sep = maas_tokenizer_special_id(tok, MAAS_SPECIAL_SEP);
    if (cls < 0 || sep < 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "QA: the tokenizer has no [CLS] or [SEP] token");
    const int Q = question->n;

    int next = 0;
    while (next < n_windows) {
        /* Stage [CLS] question [SEP] window [SEP] for as many windows as fit. */
        int n_seqs = 0, tokens = 0, first_window = next;
        while (next < n_windows && tokens + w[next].len <= ctx->params.max_tokens) {
            int32_t *ids = ctx->stage_ids + tokens, *types = ctx->stage_types + tokens;
            int t = 0;
            ids[t] = cls;
            types[t++] = 0;
            for (int i = 0; i < Q; i++) {
                ids[t] = question->ids[i];
                types[t++] = 0;
            }
            ids[t] = sep;
            types[t++] = 0;
            for (int i = w[next].ctx_begin; i < w[next].ctx_end; i++) {
                ids[t] = context->ids[i];
                types[t++] = 1;
            }
            ids[t] = sep;
            types[t++] = 1;
            MAAS_ASSERT(t == w[next].len);
            ctx->stage_lens[n_seqs++] = t;
            tokens += t;
            next++;
        }
        MAAS_ASSERT(n_seqs > 0);

        maas_bert_batch batch = {n_seqs, ctx->stage_lens, ctx->stage_ids, ctx->stage_types};
        long first = w[first_window].first;
        maas_status st = maas_bert_qa_logits(ctx, &batch, logits_start + first, logits_end + first);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

maas_status maas_bert_qa(maas_bert_context *ctx, const char *question, size_t question_len,
                         const char *context, size_t context_len, const maas_qa_options *opts,
                         maas_qa_result *out)
{
    if (!out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_qa: out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!ctx || !question || (!context && context_len > 0))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_qa: ctx, question and context must not be NULL");
    const maas_bert *m = ctx->model;
    if (!m->config.has_qa_head)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has no question-answering head (qa_outputs); "
                         "use a BertForQuestionAnswering checkpoint", maas_file_path(m->file));
    if (!m->tokenizer)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has no tokenizer", maas_file_path(m->file));
    if (question_len == 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: the question is empty");

    /* Answers are returned as NUL-terminated text, which could not contain
     * a NUL byte and still match their offsets. */
    const char *nul = memchr(question, '\0', question_len);
    if (nul)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: the question contains a NUL byte at "
                         "byte %zu; pass text without NUL bytes", (size_t)(nul - question));
    nul = context_len > 0 ? memchr(context, '\0', context_len) : NULL;
    if (nul)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "QA: the context contains a NUL byte at "
                         "byte %zu; pass text without NUL bytes", (size_t)(nul - context));

    qa_state q = {.tok = m->tokenizer, .context = context, .min_null_score = 1000000.0};
    maas_status st = resolve_options(ctx, opts, &q.opts);
    if (st != MAAS_OK)
        return st;

    /* Tokenize both texts without special tokens; the windows add them. */
    const maas_encode_options plain = {.add_special = false, .parse_special = false};
    maas_encoding qenc = {0}, cenc = {0};
    qa_window *windows = NULL;
    float *logits = NULL, *work = NULL;
    bool *flags = NULL;
    qa_span *best = NULL;

    st = maas_tokenizer_encode(m->tokenizer, question, question_len, &plain, &qenc);
    if (st == MAAS_OK && context_len > 0)
        st = maas_tokenizer_encode(m->tokenizer, context, context_len, &plain, &cenc);
    if (st != MAAS_OK || cenc.n == 0)
        goto done;  /* an empty context has no answer: OK with 0 answers */
    q.q_len = qenc.n;
    q.ctx_enc = &cenc;

    /* Plan the windows: room for context tokens beside [CLS] q [SEP] ... [SEP]. */
    const int room = q.opts.max_seq_len - qenc.n - 3;
    if (room <= 0) {
        st = maas_fail(MAAS_ERR_CONTEXT_FULL,
                       "QA: the question has %d tokens, which leaves no room for the context in a "
                       "window of max_seq_len %d tokens; shorten the question or raise max_seq_len",
                       qenc.n, q.opts.max_seq_len);
        goto done;
    }
    if (cenc.n > room && q.opts.doc_stride >= room) {
        st = maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                       "QA: doc_stride %d must be smaller than the %d context tokens of a window "
                       "(max_seq_len %d minus the question and 3 special tokens), or the windows "
                       "would not advance", q.opts.doc_stride, room, q.opts.max_seq_len);
        goto done;
    }
    int n_windows = plan_windows(cenc.n, room, q.opts.doc_stride, NULL);
    windows = calloc((size_t)n_windows, sizeof *windows);
    if (!windows) {
        st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for %d QA windows", n_windows);
        goto done;
    }
    plan_windows(cenc.n, room, q.opts.doc_stride, windows);
    long total = 0;
    for (int i = 0; i < n_windows; i++) {
        windows[i].len = qenc.n + 3 + windows[i].ctx_end - windows[i].ctx_begin;
        windows[i].first = total;
        total += windows[i].len;
    }

    /* The pipeline keeps top_k * 2 + 10 spans per window when it aligns
     * answers to words (some merge), else top_k; a window never has more
     * than max_seq_len * max_answer_len spans, which also bounds huge top_k. */
    long k_wanted = q.opts.align_to_words ? 2L * q.opts.top_k + 10 : q.opts.top_k;
    long k_spans = (long)q.opts.max_seq_len * (q.opts.max_answer_len < q.opts.max_seq_len
                                                   ? q.opts.max_answer_len : q.opts.max_seq_len);
    const int k = (int)(k_wanted < k_spans ? k_wanted : k_spans);
    q.pre_topk = k;

    /* Run the model on every window. */
    logits = malloc((size_t)total * 2 * sizeof(float));
    work = malloc((size_t)q.opts.max_seq_len * 2 * sizeof(float));
    flags = malloc((size_t)(q.opts.max_seq_len > cenc.n ? q.opts.max_seq_len : cenc.n) * sizeof(bool));
    bool *continues = malloc((size_t)cenc.n * sizeof(bool));
    best = malloc((size_t)k * sizeof *best);
    if (!logits || !work || !flags || !continues || !best) {
        free(continues);
        st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for QA over %ld tokens", total);
        goto done;
    }
    st = run_windows(ctx, &qenc, &cenc, windows, n_windows, logits, logits + total);
    if (st != MAAS_OK) {
        free(continues);
        goto done;
    }

    /* A token spelled "##..." continues the word of the token before it. */
    for (int i = 0; i < cenc.n; i++) {
        const char *text = maas_tokenizer_token_text(m->tokenizer, cenc.ids[i]);
        continues[i] = text && text[0] == '#' && text[1] == '#' && text[2] != '\0';
    }
    q.continues_word = continues;

    /* Score every window, then add the empty answer when requested. */
    for (int i = 0; i < n_windows && st == MAAS_OK; i++)
        st = score_window(&q, &windows[i], logits + windows[i].first, logits + total + windows[i].first,
                          work, flags, best);
    free(continues);
    if (st != MAAS_OK)
        goto done;
    if (q.opts.handle_impossible_answer) {
        /* The empty answer is appended as is, never merged with another. */
        st = append_candidate(&q, (qa_candidate){0, 0, 0, 0, q.min_null_score, true});
        if (st != MAAS_OK)
            goto done;
    }

    /* The result: answers, windows, first window's logits. */
    out->n_windows = n_windows;
    out->first_window_len = windows[0].len;
    out->first_start_logits = malloc((size_t)windows[0].len * sizeof(float));
    out->first_end_logits = malloc((size_t)windows[0].len * sizeof(float));
    if (!out->first_start_logits || !out->first_end_logits) {
        st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for the first window's logits");
        goto done;
    }
    memcpy(out->first_start_logits, logits, (size_t)windows[0].len * sizeof(float));
    memcpy(out->first_end_logits, logits + total, (size_t)windows[0].len * sizeof(float));
    st = finish_result(&q, out);

done:
    maas_encoding_free(&qenc);
    maas_encoding_free(&cenc);
    free(windows);
    free(logits);
    free(work);
    free(flags);
    free(best);
    free(q.cands);
    if (st != MAAS_OK)
        maas_qa_result_free(out);
    return st;
}
