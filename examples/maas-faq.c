/* maas-faq: answers customer questions from a FAQ file by sentence-embedding
 * similarity (for example with all-MiniLM-L6-v2).
 *
 *   maas-faq -m all-MiniLM-L6-v2.maas --faq examples/data/shop-faq.txt
 *   echo "my parcel never came" | maas-faq -m model.maas --faq faq.txt --json
 *
 * The FAQ file format is described in include/maas/faq.h and at the top of
 * examples/data/shop-faq.txt.  The questions' embeddings are cached in
 * FAQ_FILE.faq-cache and recomputed when the FAQ or the model file changes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "maas.h"
#include "cli.h"

#define DEFAULT_THRESHOLD MAAS_FAQ_DEFAULT_THRESHOLD
#define DEFAULT_RUNNERS_UP 2
#define MAX_RUNNERS_UP 10

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-faq -m MODEL.maas --faq FAQ_FILE [--question TEXT] [options]\n"
            "\n"
            "Matches each customer question with the closest FAQ entry and prints its\n"
            "answer, the similarity, and the runners-up.  Questions come from --question\n"
            "or, one per line, from standard input (type them, or pipe a file in).\n"
            "\n"
            "FAQ file: UTF-8 text; one or more \"Q: question\" lines, then an\n"
            "\"A: answer\" that may continue on the following lines; entries are\n"
            "separated by blank lines, and lines starting with '#' are comments.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE      sentence-embedding BERT model, e.g. all-MiniLM-L6-v2\n"
            "                        converted with maas-convert (required)\n"
            "  -f, --faq FILE        the FAQ file (required)\n"
            "  -q, --question TEXT   answer this question and exit\n"
            "  --threshold T         cosine similarity below which the answer is \"I don't\n"
            "                        know\" (default %.2f)\n"
            "  --runners-up N        other close entries to show (default %d, max %d)\n"
            "  --no-cache            do not read or write FAQ_FILE.faq-cache\n"
            "  --truncate            embed only the first tokens of a question longer than\n"
            "                        the model's limit, as sentence-transformers does;\n"
            "                        without it such a question is an error\n"
            "  --json                print one JSON object per question\n"
            "  -t, --threads N       threads (default: every core)\n"
            "  -h, --help            show this help\n",
            (double)DEFAULT_THRESHOLD, DEFAULT_RUNNERS_UP, MAX_RUNNERS_UP);
}

static void print_match(const maas_faq *faq, const char *question, const maas_faq_match *m, int n,
                        float threshold, bool json)
{
    bool known = n > 0 && m[0].similarity >= threshold;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "question", question);
        if (known) {
            cJSON_AddStringToObject(root, "answer", maas_faq_answer(faq, m[0].entry));
            cJSON_AddNumberToObject(root, "entry", m[0].entry);
            cJSON_AddStringToObject(root, "matched_question",
                                    maas_faq_question(faq, m[0].entry, m[0].question));
            cJSON_AddNumberToObject(root, "similarity", (double)m[0].similarity);
        } else {
            cJSON_AddNullToObject(root, "answer");
        }
        cJSON *others = cJSON_AddArrayToObject(root, "runners_up");
        for (int i = known ? 1 : 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "entry", m[i].entry);
            cJSON_AddStringToObject(o, "question", maas_faq_question(faq, m[i].entry, m[i].question));
            cJSON_AddNumberToObject(o, "similarity", (double)m[i].similarity);
            cJSON_AddItemToArray(others, o);
        }
        char *s = cJSON_PrintUnformatted(root);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(root);
        fflush(stdout);
        return;
    }

    printf("Q: %s\n", question);
    if (known) {
        printf("A: %s\n", maas_faq_answer(faq, m[0].entry));
        printf("   (matched \"%s\", similarity %.2f)\n",
               maas_faq_question(faq, m[0].entry, m[0].question), (double)m[0].similarity);
    } else {
        printf("A: I don't know the answer to that one, sorry.  A person from our team can help.\n");
        if (n > 0)
            printf("   (closest FAQ similarity %.2f is below the threshold %.2f)\n",
                   (double)m[0].similarity, (double)threshold);
    }
    int first_other = known ? 1 : 0;
    if (n > first_other) {
        printf("   %s", known ? "also close:" : "closest topics:");
        for (int i = first_other; i < n; i++)
            printf("%s \"%s\" (%.2f)", i > first_other ? ";" : "",
                   maas_faq_question(faq, m[i].entry, m[i].question), (double)m[i].similarity);
        printf("\n");
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *faq_path = NULL, *question = NULL;
    float threshold = DEFAULT_THRESHOLD;
    int runners_up = DEFAULT_RUNNERS_UP, threads = 0;
    bool json = false, use_cache = true, truncate = false;

    enum { OPT_THRESHOLD = 256, OPT_RUNNERS, OPT_NO_CACHE, OPT_JSON, OPT_TRUNCATE };
    static const struct option long_opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"faq", required_argument, NULL, 'f'},
        {"question", required_argument, NULL, 'q'},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"runners-up", required_argument, NULL, OPT_RUNNERS},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"truncate", no_argument, NULL, OPT_TRUNCATE},
        {"json", no_argument, NULL, OPT_JSON},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_program = "maas-faq";
    while ((c = getopt_long(argc, argv, "m:f:q:t:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'f': faq_path = optarg; break;
        case 'q': question = optarg; break;
        case 't': threads = (int)cli_parse_int("--threads", optarg, 0, 1024); break;
        case OPT_THRESHOLD:
            threshold = (float)cli_parse_float("--threshold", optarg, -1.0, 1.0);
            break;
        case OPT_RUNNERS:
            runners_up = (int)cli_parse_int("--runners-up", optarg, 0, MAX_RUNNERS_UP);
            break;
        case OPT_NO_CACHE: use_cache = false; break;
        case OPT_TRUNCATE: truncate = true; break;
        case OPT_JSON: json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || !faq_path) {
        fprintf(stderr, "maas-faq: missing %s (see --help)\n", !model_path ? "-m MODEL.maas" : "--faq FILE");
        return 2;
    }

    cli_check_regular_file("--faq", faq_path);

    /* The cache is written beside the FAQ file; it must not replace the model. */
    char cache_path[4096];
    if (snprintf(cache_path, sizeof cache_path, "%s.faq-cache", faq_path) >= (int)sizeof cache_path) {
        fprintf(stderr, "maas-faq: --faq: the path '%s' is too long\n", faq_path);
        return 2;
    }
    if (use_cache)
        cli_check_output("--faq (its cache FAQ_FILE.faq-cache)", cache_path, model_path);

    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    maas_faq *faq = NULL;
    int status = 1;
    if (maas_faq_load(faq_path, &faq) != MAAS_OK || maas_bert_open(model_path, &model) != MAAS_OK) {
        fprintf(stderr, "maas-faq: %s\n", maas_last_error());
        goto done;
    }
    maas_faq_set_truncate(faq, truncate);
    if (!maas_bert_get_tokenizer(model)) {
        fprintf(stderr, "maas-faq: %s has no tokenizer; convert the model folder with its vocab.txt\n",
                model_path);
        goto done;
    }
    maas_bert_context_params params;
    maas_bert_context_params_default(model, &params);
    params.n_threads = threads;
    if (maas_bert_context_create(model, &params, &ctx) != MAAS_OK) {
        fprintf(stderr, "maas-faq: %s\n", maas_last_error());
        goto done;
    }

    /* Embed the FAQ questions once, or reuse the cache beside the file. */
    bool from_cache = false;
    maas_status st = maas_faq_embed(faq, ctx, use_cache ? cache_path : NULL, &from_cache);
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-faq: embedding the FAQ questions failed: %s\n", maas_last_error());
        if (st == MAAS_ERR_CONTEXT_FULL)
            fprintf(stderr, "maas-faq: FAQ questions are numbered from 0 in file order; pass "
                    "--truncate to embed only the first tokens of longer ones\n");
        goto done;
    }
    fprintf(stderr, "maas-faq: %d FAQ entries (%s)\n", maas_faq_count(faq),
            from_cache ? "embeddings from the cache" : "questions embedded");

    /* Answer --question, or every line of standard input. */
    bool interactive = !question && isatty(STDIN_FILENO);
    if (interactive)
        fprintf(stderr, "Type a question and press Enter (Ctrl-D to quit).\n");
    status = 0;
    char *line = NULL;
    size_t cap = 0;
    long line_no = 0;
    for (;;) {
        const char *q = question;
        if (!question) {
            if (interactive)
                fprintf(stderr, "> ");
            ssize_t n = getline(&line, &cap, stdin);
            if (n < 0)
                break;
            line_no++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
                line[--n] = '\0';
            if (n == 0)
                continue;
            q = line;
        }
        maas_faq_match matches[1 + MAX_RUNNERS_UP];
        int n_matches = 0;
        st = maas_faq_search(faq, ctx, q, 1 + runners_up, matches, &n_matches);
        if (st != MAAS_OK) {
            if (st == MAAS_ERR_CONTEXT_FULL)
                fprintf(stderr, "maas-faq: the question is too long; pass --truncate to embed "
                        "only its first tokens\n");
            if (question) {
                fprintf(stderr, "maas-faq: %s\n", maas_last_error());
            } else {
                fprintf(stderr, "maas-faq: line %ld: %s\n", line_no, maas_last_error());
                if (json)
                    cli_print_json_error(line_no, maas_last_error());
            }
            status = 1;
        } else {
            print_match(faq, q, matches, n_matches, threshold, json);
        }
        if (question)
            break;
    }
    free(line);

done:
    maas_faq_free(faq);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    return status;
}
