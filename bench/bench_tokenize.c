/* Tokenisation throughput of the GPT-2 and BERT tokenizers, in MB/s of
 * input text per CPU second, on one thread.
 *
 *   bench_tokenize [--gpt2 VOCAB.json MERGES.txt] [--bert VOCAB.txt]
 *                  [--text NAME FILE]... [--seconds S]
 *
 * Each text is encoded one line at a time (as a server encodes one request
 * at a time), repeatedly until S CPU seconds have passed (default 2).  Without
 * --text it runs on the committed golden test strings, so `make bench` works
 * without generated data; bench/bench_tokenize.py generates large English
 * and Chinese texts and runs this beside Hugging Face tokenizers.
 *
 * Output: one line per tokenizer and text,
 *   tokenize TOKENIZER TEXT MB/s BYTES TOKENS SECONDS ID_SUM
 * where ID_SUM is the sum of all ids of one pass over the text.
 * to stdout; errors to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maas.h"

#define MAX_TEXTS 8

typedef struct text {
    const char *name;
    char *data;
    size_t len;
} text;

/* CPU seconds of this process: on a shared machine they measure the work
 * done, where wall time would also count the time other processes ran. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) {
        buf[size] = '\0';
        *len = (size_t)size;
    }
    return buf;
}

/* Encodes every line of t once; returns the token count, or -1, and adds
 * the ids to *id_sum when it is not NULL. */
static long encode_lines(const maas_tokenizer *tok, const text *t, maas_encoding *enc,
                         unsigned long long *id_sum)
{
    long tokens = 0;
    maas_encode_options opts = {.add_special = true};
    size_t pos = 0;
    while (pos < t->len) {
        const char *nl = memchr(t->data + pos, '\n', t->len - pos);
        size_t end = nl ? (size_t)(nl - t->data) + 1 : t->len;
        if (maas_tokenizer_encode(tok, t->data + pos, end - pos, &opts, enc) != MAAS_OK) {
            fprintf(stderr, "bench_tokenize: %s\n", maas_last_error());
            return -1;
        }
        tokens += enc->n;
        for (int i = 0; id_sum && i < enc->n; i++)
            *id_sum += (unsigned long long)enc->ids[i];
        maas_encoding_free(enc);
        pos = end;
    }
    return tokens;
}

static int run(const char *tok_name, const maas_tokenizer *tok, const text *t, double seconds)
{
    maas_encoding enc = {0};

    /* One untimed pass warms the BPE cache and sums the ids, so a
     * comparison can check that both sides produced the same tokens. */
    unsigned long long id_sum = 0;
    if (encode_lines(tok, t, &enc, &id_sum) < 0)
        return 1;

    double start = now(), elapsed = 0;
    long tokens = 0, passes = 0;
    while (elapsed < seconds || passes == 0) {
        long n = encode_lines(tok, t, &enc, NULL);
        if (n < 0)
            return 1;
        tokens += n;
        passes++;
        elapsed = now() - start;
    }
    double bytes = (double)t->len * (double)passes;
    printf("tokenize %s %s %.2f %.0f %ld %.3f %llu\n", tok_name, t->name, bytes / elapsed / 1e6,
           bytes, tokens, elapsed, id_sum);
    fflush(stdout);
    return 0;
}

/* The golden test strings joined by newlines: the default text. */
static char *golden_text(size_t *len)
{
    size_t n;
    char *json = read_file("tests/fixtures/golden/tokenizers.json", &n);
    if (!json)
        return NULL;
    char *out = malloc(n + 1);
    size_t o = 0;
    const char *key = "{\"text\":\"";
    for (char *p = strstr(json, key); p && out; p = strstr(p, key)) {
        p += strlen(key);
        /* Copy up to the closing quote; escapes stay as their raw text. */
        while (*p && !(*p == '"' && p[-1] != '\\'))
            out[o++] = *p++;
        out[o++] = '\n';
    }
    free(json);
    if (out)
        out[o] = '\0';
    *len = o;
    return out;
}

int main(int argc, char **argv)
{
    const char *gpt2_vocab = "tests/fixtures/tokenizers/gpt2/vocab.json";
    const char *gpt2_merges = "tests/fixtures/tokenizers/gpt2/merges.txt";
    const char *bert_vocab = "tests/fixtures/tokenizers/bert-base-uncased/vocab.txt";
    double seconds = 2.0;
    text texts[MAX_TEXTS];
    int n_texts = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gpt2") && i + 2 < argc) {
            gpt2_vocab = argv[++i];
            gpt2_merges = argv[++i];
        } else if (!strcmp(argv[i], "--bert") && i + 1 < argc) {
            bert_vocab = argv[++i];
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--text") && i + 2 < argc && n_texts < MAX_TEXTS) {
            texts[n_texts].name = argv[++i];
            const char *path = argv[++i];
            texts[n_texts].data = read_file(path, &texts[n_texts].len);
            if (!texts[n_texts].data) {
                fprintf(stderr, "bench_tokenize: cannot read %s\n", path);
                return 1;
            }
            n_texts++;
        } else {
            fprintf(stderr, "usage: bench_tokenize [--gpt2 VOCAB MERGES] [--bert VOCAB] "
                            "[--text NAME FILE]... [--seconds S]\n");
            return 2;
        }
    }
    if (n_texts == 0) {
        texts[0].name = "golden-strings";
        texts[0].data = golden_text(&texts[0].len);
        if (!texts[0].data) {
            fprintf(stderr, "bench_tokenize: cannot read the golden strings; run from the "
                            "repository root\n");
            return 1;
        }
        n_texts = 1;
    }

    maas_tokenizer *gpt2, *bert;
    if (maas_tokenizer_load_bpe(gpt2_vocab, gpt2_merges, &gpt2) != MAAS_OK ||
        maas_tokenizer_load_wordpiece(bert_vocab, true, &bert) != MAAS_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", maas_last_error());
        return 1;
    }

    int rc = 0;
    for (int i = 0; i < n_texts && rc == 0; i++) {
        rc |= run("gpt2", gpt2, &texts[i], seconds);
        rc |= run("bert", bert, &texts[i], seconds);
    }
    for (int i = 0; i < n_texts; i++)
        free(texts[i].data);
    maas_tokenizer_free(gpt2);
    maas_tokenizer_free(bert);
    return rc;
}
