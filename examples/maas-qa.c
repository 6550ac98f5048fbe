/* maas-qa: extractive question answering over a text file with a BERT
 * question-answering model, scored as Hugging Face's question-answering
 * pipeline scores it.
 *
 *   maas-qa -m squad-model.maas --context policy.txt --question "How long do refunds take?"
 *   printf 'Who pays customs?\nWhen do orders ship?\n' | maas-qa -m m.maas --context policy.txt --json
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "maas.h"
#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-qa -m MODEL.maas --context FILE [--question TEXT] [options]\n"
            "\n"
            "Finds the answer to a question in the text of FILE.  Without --question it\n"
            "reads one question per line from standard input and answers each.  With\n"
            "--json each record then has \"line\": N, and a line that fails (empty or\n"
            "invalid) gives {\"line\": N, \"error\": MESSAGE}, so record i is line i.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE        BERT question-answering model (a converted\n"
            "                          BertForQuestionAnswering checkpoint, required)\n"
            "  -c, --context FILE      UTF-8 text to search for the answer (required)\n"
            "  -q, --question TEXT     the question\n"
            "  -k, --top-k K           number of answers (default 1)\n"
            "  --json                  print JSON: answer, start, end, score (character\n"
            "                          offsets into the context)\n"
            "  --max-seq-len N         tokens per window (default min(384, model positions))\n"
            "  --doc-stride N          tokens shared by consecutive windows; 0 means no\n"
            "                          overlap (default min(max-seq-len / 2, 128))\n"
            "  --max-answer-len N      longest answer in tokens (default 15)\n"
            "  --allow-no-answer       also offer the empty answer when the model rates\n"
            "                          \"no answer\" higher (handle_impossible_answer)\n"
            "  --logits-out FILE       write the first window's start then end logits\n"
            "                          (float32 little-endian) to FILE\n"
            "  -t, --threads N         threads (default: every core)\n"
            "  -h, --help              show this help\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                fclose(fp);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    if (ferror(fp)) {
        int read_errno = errno;
        free(buf);
        fclose(fp);
        errno = read_errno;
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool write_logits(const char *path, const maas_qa_result *r)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return false;
    size_t n = (size_t)r->first_window_len;
    bool ok = fwrite(r->first_start_logits, sizeof(float), n, fp) == n &&
              fwrite(r->first_end_logits, sizeof(float), n, fp) == n;
    return (fclose(fp) == 0) && ok;
}

/* Prints one result; line_no > 0 is the standard-input line, added to
 * JSON records so they can be matched with the error records. */
static void print_result(const char *question, const maas_qa_result *r, int top_k, bool json,
                         bool show_question, long line_no)
{
    if (json) {
        cJSON *items = cJSON_CreateArray();
        for (int i = 0; i < r->n_answers; i++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "answer", r->answers[i].text);
            cJSON_AddNumberToObject(a, "start", r->answers[i].start);
            cJSON_AddNumberToObject(a, "end", r->answers[i].end);
            cJSON_AddNumberToObject(a, "score", (double)r->answers[i].score);
            cJSON_AddItemToArray(items, a);
        }
        cJSON *root;
        if (top_k == 1 && r->n_answers == 1) {
            root = cJSON_DetachItemFromArray(items, 0);
            cJSON_Delete(items);
        } else if (top_k == 1) {
            cJSON_Delete(items);
            root = cJSON_CreateObject();
            cJSON_AddNullToObject(root, "answer");
        } else {
            root = cJSON_CreateObject();
            cJSON_AddItemToObject(root, "answers", items);
        }
        if (show_question)
            cJSON_AddStringToObject(root, "question", question);
        if (line_no > 0)
            cJSON_AddNumberToObject(root, "line", (double)line_no);
        char *s = cJSON_PrintUnformatted(root);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(root);
        return;
    }

    if (show_question)
        printf("Q: %s\n", question);
    if (r->n_answers == 0)
        printf("no answer found in the context\n");
    for (int i = 0; i < r->n_answers; i++) {
        const maas_qa_answer *a = &r->answers[i];
        if (r->n_answers > 1)
            printf("%d. ", i + 1);
        if (a->text[0] == '\0')
            printf("(no answer)  score %.4f\n", (double)a->score);
        else
            printf("%s  (score %.4f, characters %d-%d)\n", a->text, (double)a->score, a->start, a->end);
    }
    if (show_question)
        printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *context_path = NULL, *question = NULL, *logits_out = NULL;
    bool json = false;
    int threads = 0;
    cli_program = "maas-qa";
    maas_qa_options opts;
    maas_qa_options_default(&opts);

    enum { OPT_JSON = 256, OPT_MAX_SEQ, OPT_STRIDE, OPT_MAX_ANSWER, OPT_NO_ANSWER, OPT_LOGITS };
    static const struct option long_opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"context", required_argument, NULL, 'c'},
        {"question", required_argument, NULL, 'q'},
        {"top-k", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-seq-len", required_argument, NULL, OPT_MAX_SEQ},
        {"doc-stride", required_argument, NULL, OPT_STRIDE},
        {"max-answer-len", required_argument, NULL, OPT_MAX_ANSWER},
        {"allow-no-answer", no_argument, NULL, OPT_NO_ANSWER},
        {"logits-out", required_argument, NULL, OPT_LOGITS},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:c:q:k:t:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'c': context_path = optarg; break;
        case 'q': question = optarg; break;
        case 'k': opts.top_k = (int)cli_parse_int("--top-k", optarg, 1, 1000); break;
        case 't': threads = (int)cli_parse_int("--threads", optarg, 0, 1024); break;
        case OPT_JSON: json = true; break;
        case OPT_MAX_SEQ: opts.max_seq_len = (int)cli_parse_int("--max-seq-len", optarg, 1, 1 << 20); break;
        case OPT_STRIDE: opts.doc_stride = (int)cli_parse_int("--doc-stride", optarg, 0, 1 << 20); break;
        case OPT_MAX_ANSWER: opts.max_answer_len = (int)cli_parse_int("--max-answer-len", optarg, 1, 1 << 20); break;
        case OPT_NO_ANSWER: opts.handle_impossible_answer = true; break;
        case OPT_LOGITS: logits_out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path || !context_path) {
        fprintf(stderr, "maas-qa: missing %s (see --help)\n",
                !model_path ? "-m MODEL.maas" : "--context FILE");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "maas-qa: unexpected argument \"%s\"; pass the question with --question\n",
                argv[optind]);
        return 2;
    }

    cli_check_regular_file("--context", context_path);
    cli_check_output("--logits-out", logits_out, model_path);
    cli_check_output("--logits-out", logits_out, context_path);
    size_t context_len = 0;
    char *context = read_file(context_path, &context_len);
    if (!context) {
        fprintf(stderr, "maas-qa: cannot read %s: %s\n", context_path, strerror(errno));
        return 1;
    }

    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    maas_bert_context_params params;
    int status = 1;
    if (maas_bert_open(model_path, &model) != MAAS_OK) {
        fprintf(stderr, "maas-qa: %s\n", maas_last_error());
        goto done;
    }
    if (!maas_bert_get_config(model)->has_qa_head) {
        fprintf(stderr, "maas-qa: %s has no question-answering head (qa_outputs); convert a "
                "BertForQuestionAnswering checkpoint (for example one fine-tuned on SQuAD)\n",
                model_path);
        goto done;
    }
    maas_bert_context_params_default(model, &params);
    params.n_threads = threads;
    if (maas_bert_context_create(model, &params, &ctx) != MAAS_OK) {
        fprintf(stderr, "maas-qa: %s\n", maas_last_error());
        goto done;
    }

    /* One question from the command line, or one per line from stdin. */
    status = 0;
    char *line = NULL;
    size_t line_cap = 0;
    bool from_stdin = question == NULL;
    bool wrote_logits = false;
    long line_no = 0;
    for (;;) {
        const char *q = question;
        size_t q_len = question ? strlen(question) : 0;
        if (from_stdin) {
            /* Every line gets a result, an empty or invalid one an error,
             * so results stay aligned with the input lines. */
            ssize_t n = getline(&line, &line_cap, stdin);
            if (n < 0)
                break;
            line_no++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            q = line;
            q_len = (size_t)n;
        }
        maas_qa_result r;
        if (maas_bert_qa(ctx, q, q_len, context, context_len, &opts, &r) != MAAS_OK) {
            if (from_stdin) {
                fprintf(stderr, "maas-qa: line %ld: %s\n", line_no, maas_last_error());
                if (json)
                    cli_print_json_error(line_no, maas_last_error());
            } else {
                fprintf(stderr, "maas-qa: %s\n", maas_last_error());
            }
            status = 1;
            if (!from_stdin)
                break;
            continue;
        }
        if (logits_out && !wrote_logits && r.n_windows > 0) {
            if (!write_logits(logits_out, &r)) {
                fprintf(stderr, "maas-qa: cannot write %s: %s\n", logits_out, strerror(errno));
                status = 1;
            }
            wrote_logits = true;
        }
        print_result(q, &r, opts.top_k, json, from_stdin, from_stdin ? line_no : 0);
        maas_qa_result_free(&r);
        if (!from_stdin)
            break;
    }
    free(line);

done:
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    free(context);
    return status;
}
