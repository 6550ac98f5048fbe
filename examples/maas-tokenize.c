/* maas-tokenize: prints the token ids a model sees for a text.
 *
 *   maas-tokenize -m MODEL.maas -f FILE
 *   maas-tokenize --vocab vocab.json --merges merges.txt "some text"
 *   echo "some text" | maas-tokenize --vocab vocab.txt --tokens
 *
 * Ids go to stdout on one line, space-separated; errors go to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maas.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-tokenize (-m MODEL.maas | --vocab FILE [--merges FILE]) [options] [TEXT]\n"
            "\n"
            "Prints the token ids of the text as the model sees one sequence, space-separated\n"
            "on one line: BERT adds [CLS] and [SEP], GPT-2 adds nothing.  The text is TEXT,\n"
            "the exact bytes of FILE (-f), or standard input when neither is given.\n"
            "\n"
            "  -m, --model FILE    tokenizer stored in a .maas model file\n"
            "      --vocab FILE    vocabulary file instead of a model: vocab.json (GPT-2, needs\n"
            "                      --merges) or vocab.txt (BERT WordPiece)\n"
            "      --merges FILE   merges.txt of a GPT-2 vocabulary\n"
            "      --cased         keep case and accents with a vocab.txt (default: uncased)\n"
            "  -f, --file FILE     read the text from FILE\n"
            "      --no-special    leave [CLS] and [SEP] out\n"
            "      --parse-special turn special-token text such as \"<|endoftext|>\" or \"[SEP]\"\n"
            "                      in the input into its special id (default: ordinary text)\n"
            "      --tokens        also print the token strings, on a second line\n"
            "  -h, --help          show this help\n");
}

/* Reads a whole stream; returns NULL on a read error or out of memory. */
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
    if (!buf || ferror(fp)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static maas_status load_tokenizer(const char *model, const char *vocab, const char *merges,
                                  bool cased, maas_tokenizer **tok)
{
    if (model) {
        maas_file *f;
        maas_status st = maas_file_open(model, &f);
        if (st != MAAS_OK)
            return st;
        st = maas_tokenizer_from_file(f, tok);
        maas_file_close(f);
        return st;
    }
    if (ends_with(vocab, ".json") && !merges) {
        fprintf(stderr, "maas-tokenize: %s looks like a GPT-2 vocab.json; add --merges merges.txt\n",
                vocab);
        return MAAS_ERR_INVALID_ARGUMENT;
    }
    if (merges)
        return maas_tokenizer_load_bpe(vocab, merges, tok);
    return maas_tokenizer_load_wordpiece(vocab, !cased, tok);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *vocab = NULL, *merges = NULL, *file = NULL, *text_arg = NULL;
    bool no_special = false, parse_special = false, print_tokens = false, cased = false;

    /* Step 1: options. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_value) {
            model = argv[++i];
        } else if (!strcmp(a, "--vocab") && has_value) {
            vocab = argv[++i];
        } else if (!strcmp(a, "--merges") && has_value) {
            merges = argv[++i];
        } else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && has_value) {
            file = argv[++i];
        } else if (!strcmp(a, "--no-special")) {
            no_special = true;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = true;
        } else if (!strcmp(a, "--tokens")) {
            print_tokens = true;
        } else if (!strcmp(a, "--cased")) {
            cased = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "maas-tokenize: unknown option or missing value: %s (see --help)\n", a);
            return 2;
        } else if (!text_arg) {
            text_arg = a;
        } else {
            fprintf(stderr, "maas-tokenize: more than one TEXT argument; quote the text\n");
            return 2;
        }
    }
    if (!model == !vocab) {
        fprintf(stderr, "maas-tokenize: give either -m MODEL.maas or --vocab FILE (see --help)\n");
        return 2;
    }
    if (file && text_arg) {
        fprintf(stderr, "maas-tokenize: give the text either with -f FILE or as an argument\n");
        return 2;
    }

    /* Step 2: the tokenizer. */
    maas_tokenizer *tok;
    maas_status st = load_tokenizer(model, vocab, merges, cased, &tok);
    if (st != MAAS_OK) {
        if (st != MAAS_ERR_INVALID_ARGUMENT)
            fprintf(stderr, "maas-tokenize: %s\n", maas_last_error());
        return 1;
    }

    /* Step 3: the text, byte for byte. */
    char *text;
    size_t len;
    if (text_arg) {
        len = strlen(text_arg);
        text = malloc(len + 1);
        if (text)
            memcpy(text, text_arg, len + 1);
    } else {
        FILE *fp = file ? fopen(file, "rb") : stdin;
        if (!fp) {
            fprintf(stderr, "maas-tokenize: cannot open %s: %s\n", file, strerror(errno));
            maas_tokenizer_free(tok);
            return 1;
        }
        text = read_stream(fp, &len);
        if (file)
            fclose(fp);
    }
    if (!text) {
        fprintf(stderr, "maas-tokenize: cannot read %s\n", file ? file : "standard input");
        maas_tokenizer_free(tok);
        return 1;
    }

    /* Step 4: encode and print. */
    maas_encode_options opts = {.add_special = !no_special, .parse_special = parse_special};
    maas_encoding enc = {0};
    int rc = 0;
    if (maas_tokenizer_encode(tok, text, len, &opts, &enc) != MAAS_OK) {
        fprintf(stderr, "maas-tokenize: %s\n", maas_last_error());
        rc = 1;
    } else {
        for (int i = 0; i < enc.n; i++)
            printf(i ? " %d" : "%d", enc.ids[i]);
        printf("\n");
        if (print_tokens) {
            for (int i = 0; i < enc.n; i++)
                printf(i ? " %s" : "%s", maas_tokenizer_token_text(tok, enc.ids[i]));
            printf("\n");
        }
    }
    maas_encoding_free(&enc);
    free(text);
    maas_tokenizer_free(tok);
    return rc;
}
