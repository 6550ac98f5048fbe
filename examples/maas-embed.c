/* maas-embed: sentence embeddings (or the last hidden state) of texts with
 * a BERT model in a .maas file.
 *
 *   maas-embed -m all-MiniLM-L6-v2.maas "Where is my order?" "Track my parcel"
 *   maas-embed -m model.maas -f sentences.txt --json
 *   maas-embed -m model.maas --pooling none --hidden-out hidden.f32 "Hello"
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
            "usage: maas-embed -m MODEL.maas [-f FILE | TEXT...] [options]\n"
            "\n"
            "Prints one embedding per text (one line of numbers each, or JSON).\n"
            "Texts come from the arguments, from FILE (one per line), or from\n"
            "standard input (one per line) when neither is given.  An empty line is\n"
            "an empty text ([CLS] [SEP]), so output line i belongs to input line i.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE      BERT model converted with maas-convert (required)\n"
            "  -f, --file FILE       read the texts from FILE, one per line\n"
            "  --pooling MODE        mean, cls, max, or none for the last hidden state\n"
            "                        (default: the model's sentence-transformers setting,\n"
            "                        else mean)\n"
            "  --normalize           scale each embedding to unit length\n"
            "  --no-normalize        do not (default: the model's setting)\n"
            "  --hidden-out FILE     with --pooling none: write the last hidden state of\n"
            "                        every text (tokens x hidden, float32 little-endian,\n"
            "                        texts back to back) to FILE instead of printing it\n"
            "  --truncate            embed only the first tokens of a text longer than\n"
            "                        the model's limit (sentence-transformers'\n"
            "                        max_seq_length when the model has it, else its\n"
            "                        positions), as sentence-transformers does;\n"
            "                        without it such a text is an error\n"
            "  --json                print JSON\n"
            "  -t, --threads N       threads (default: every core)\n"
            "  -h, --help            show this help\n");
}

/* Reads texts from a stream, one per line, into *texts.  An empty line is
 * an empty text, so text i is always line i + 1.  Returns the count, or -1
 * with a message when memory runs out. */
static int read_lines(FILE *fp, char ***texts)
{
    int n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, fp)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(*texts, (size_t)cap * sizeof *grown);
            if (!grown)
                goto out_of_memory;
            *texts = grown;
        }
        if (!((*texts)[n] = strdup(line)))
            goto out_of_memory;
        n++;
    }
    free(line);
    return n;

out_of_memory:
    fprintf(stderr, "maas-embed: out of memory reading text %d\n", n + 1);
    free(line);
    for (int i = 0; i < n; i++)
        free((*texts)[i]);
    return -1;
}

static void print_vector(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        printf(i ? " %.7g" : "%.7g", (double)v[i]);
    printf("\n");
}

static cJSON *json_vector(const float *v, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v[i]));
    return arr;
}

/* --pooling none: the last hidden state of each text, printed or written. */
static int run_hidden(maas_bert *model, maas_bert_context *ctx, char **texts, int n_texts,
                      const char *hidden_out, bool json)
{
    const maas_tokenizer *tok = maas_bert_get_tokenizer(model);
    const int C = maas_bert_get_config(model)->hidden_size;
    FILE *out = NULL;
    if (hidden_out && !(out = fopen(hidden_out, "wb"))) {
        fprintf(stderr, "maas-embed: cannot create %s: %s\n", hidden_out, strerror(errno));
        return 1;
    }
    cJSON *root = json ? cJSON_CreateObject() : NULL, *items = NULL;
    if (root) {
        cJSON_AddNumberToObject(root, "dimension", C);
        items = cJSON_AddArrayToObject(root, "data");
    }

    int status = 0;
    for (int i = 0; i < n_texts && status == 0; i++) {
        maas_encoding enc = {0};
        maas_encode_options eo = {.add_special = true, .parse_special = false};
        maas_status st = maas_tokenizer_encode(tok, texts[i], strlen(texts[i]), &eo, &enc);
        float *hidden = NULL;
        if (st == MAAS_OK) {
            hidden = malloc((size_t)enc.n * C * sizeof(float));
            maas_bert_batch b = {1, &enc.n, enc.ids, NULL};
            st = hidden ? maas_bert_hidden(ctx, &b, hidden) : MAAS_ERR_OUT_OF_MEMORY;
        }
        if (st != MAAS_OK) {
            fprintf(stderr, "maas-embed: text %d: %s\n", i + 1, maas_last_error());
            status = 1;
        } else if (out) {
            if (fwrite(hidden, sizeof(float), (size_t)enc.n * C, out) != (size_t)enc.n * C) {
                fprintf(stderr, "maas-embed: writing %s failed\n", hidden_out);
                status = 1;
            }
            if (json) {
                cJSON *item = cJSON_CreateObject();
                cJSON_AddNumberToObject(item, "index", i);
                cJSON_AddNumberToObject(item, "tokens", enc.n);
                cJSON_AddItemToArray(items, item);
            } else {
                printf("%d tokens\n", enc.n);
            }
        } else if (json) {
            cJSON *item = cJSON_CreateObject(), *rows = cJSON_CreateArray();
            cJSON_AddNumberToObject(item, "index", i);
            for (int t = 0; t < enc.n; t++)
                cJSON_AddItemToArray(rows, json_vector(hidden + (size_t)t * C, C));
            cJSON_AddItemToObject(item, "hidden_state", rows);
            cJSON_AddItemToArray(items, item);
        } else {
            for (int t = 0; t < enc.n; t++)
                print_vector(hidden + (size_t)t * C, C);
            printf("\n");
        }
        free(hidden);
        maas_encoding_free(&enc);
    }

    if (out && fclose(out) != 0) {
        fprintf(stderr, "maas-embed: writing %s failed\n", hidden_out);
        status = 1;
    }
    if (root && status == 0) {
        char *s = cJSON_PrintUnformatted(root);
        printf("%s\n", s);
        free(s);
    }
    cJSON_Delete(root);
    return status;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *file = NULL, *pooling_name = NULL, *hidden_out = NULL;
    int normalize = -1, threads = 0;
    bool json = false, truncate = false;
    cli_program = "maas-embed";

    enum { OPT_POOLING = 256, OPT_NORMALIZE, OPT_NO_NORMALIZE, OPT_HIDDEN_OUT, OPT_JSON,
           OPT_TRUNCATE };
    static const struct option long_opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"pooling", required_argument, NULL, OPT_POOLING},
        {"normalize", no_argument, NULL, OPT_NORMALIZE},
        {"no-normalize", no_argument, NULL, OPT_NO_NORMALIZE},
        {"hidden-out", required_argument, NULL, OPT_HIDDEN_OUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"truncate", no_argument, NULL, OPT_TRUNCATE},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:f:t:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'f': file = optarg; break;
        case 't': threads = (int)cli_parse_int("--threads", optarg, 0, 1024); break;
        case OPT_POOLING: pooling_name = optarg; break;
        case OPT_NORMALIZE: normalize = 1; break;
        case OPT_NO_NORMALIZE: normalize = 0; break;
        case OPT_HIDDEN_OUT: hidden_out = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_TRUNCATE: truncate = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "maas-embed: missing -m MODEL.maas (see --help)\n");
        return 2;
    }
    bool hidden_mode = pooling_name && strcmp(pooling_name, "none") == 0;
    maas_pooling pooling = MAAS_POOLING_MEAN;
    if (pooling_name && !hidden_mode && maas_pooling_from_name(pooling_name, &pooling) != MAAS_OK) {
        fprintf(stderr, "maas-embed: invalid --pooling \"%s\": expected mean, cls, max or none\n",
                pooling_name);
        return 2;
    }
    if (hidden_out && !hidden_mode) {
        fprintf(stderr, "maas-embed: --hidden-out needs --pooling none\n");
        return 2;
    }
    if (file && optind < argc) {
        fprintf(stderr, "maas-embed: give texts either as arguments or with -f, not both\n");
        return 2;
    }

    if (file)
        cli_check_regular_file("--file", file);
    cli_check_output("--hidden-out", hidden_out, model_path);
    cli_check_output("--hidden-out", hidden_out, file);

    /* Collect the texts. */
    char **texts = NULL;
    int n_texts = 0;
    if (file) {
        FILE *fp = fopen(file, "r");
        if (!fp) {
            fprintf(stderr, "maas-embed: cannot open %s: %s\n", file, strerror(errno));
            return 1;
        }
        n_texts = read_lines(fp, &texts);
        if (ferror(fp)) {
            fprintf(stderr, "maas-embed: cannot read %s: %s\n", file, strerror(errno));
            n_texts = n_texts < 0 ? n_texts : -1;
        }
        fclose(fp);
    } else if (optind < argc) {
        n_texts = argc - optind;
        texts = malloc((size_t)n_texts * sizeof *texts);
        for (int i = 0; i < n_texts; i++)
            texts[i] = strdup(argv[optind + i]);
    } else {
        n_texts = read_lines(stdin, &texts);
    }
    if (n_texts < 0) {
        free(texts);
        return 1;
    }
    if (n_texts == 0) {
        fprintf(stderr, "maas-embed: no texts to embed\n");
        free(texts);
        return 1;
    }

    /* Load the model and a context. */
    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    maas_bert_context_params params;
    int status = 1;
    if (maas_bert_open(model_path, &model) != MAAS_OK) {
        fprintf(stderr, "maas-embed: %s\n", maas_last_error());
        goto done;
    }
    if (!maas_bert_get_tokenizer(model)) {
        fprintf(stderr, "maas-embed: %s has no tokenizer; convert the checkpoint folder with its "
                "vocab.txt\n", model_path);
        goto done;
    }
    maas_bert_context_params_default(model, &params);
    params.n_threads = threads;
    if (maas_bert_context_create(model, &params, &ctx) != MAAS_OK) {
        fprintf(stderr, "maas-embed: %s\n", maas_last_error());
        goto done;
    }

    if (hidden_mode) {
        status = run_hidden(model, ctx, texts, n_texts, hidden_out, json);
        goto done;
    }

    /* Pooled embeddings of all texts in packed batches. */
    maas_embed_options opts;
    maas_embed_options_default(model, &opts);
    if (pooling_name)
        opts.pooling = pooling;
    if (normalize >= 0)
        opts.normalize = normalize;
    opts.truncate = truncate;
    const int C = maas_bert_get_config(model)->hidden_size;
    float *emb = malloc((size_t)n_texts * C * sizeof(float));
    maas_status st = emb ? maas_bert_embed(ctx, (const char *const *)texts, n_texts, &opts, emb)
                         : MAAS_ERR_OUT_OF_MEMORY;
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-embed: %s\n", emb ? maas_last_error() : "out of memory");
        if (st == MAAS_ERR_CONTEXT_FULL)
            fprintf(stderr, "maas-embed: texts are numbered from 0; pass --truncate to embed "
                    "only the first tokens of longer texts\n");
        free(emb);
        goto done;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "pooling", maas_pooling_name(opts.pooling));
        cJSON_AddBoolToObject(root, "normalized", opts.normalize);
        cJSON_AddNumberToObject(root, "dimension", C);
        cJSON *items = cJSON_AddArrayToObject(root, "data");
        for (int i = 0; i < n_texts; i++) {
            cJSON *item = cJSON_CreateObject();
            cJSON_AddNumberToObject(item, "index", i);
            cJSON_AddStringToObject(item, "text", texts[i]);
            cJSON_AddItemToObject(item, "embedding", json_vector(emb + (size_t)i * C, C));
            cJSON_AddItemToArray(items, item);
        }
        char *s = cJSON_PrintUnformatted(root);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(root);
    } else {
        for (int i = 0; i < n_texts; i++)
            print_vector(emb + (size_t)i * C, C);
    }
    free(emb);
    status = 0;

done:
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    for (int i = 0; i < n_texts; i++)
        free(texts[i]);
    free(texts);
    return status;
}
