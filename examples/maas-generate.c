/* maas-generate: continue a prompt with a GPT-2 model and print the text as
 * it is generated.  Flags follow llama.cpp's names where one exists.
 *
 *   maas-generate -m gpt2.maas -p "Once upon a time" -n 50 --temp 0.8
 *
 * The continuation goes to stdout (not the prompt); the timings go to
 * stderr. */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "maas.h"

#define MAX_STOP MAAS_GPT2_MAX_STOP

static void usage(FILE *out)
{
    fprintf(out,
        "usage: maas-generate -m MODEL.maas (-p PROMPT | -f FILE) [options]\n"
        "\n"
        "Continues PROMPT with a GPT-2 model and prints the continuation as\n"
        "it is generated.  Timings go to stderr.\n"
        "\n"
        "  -m, --model FILE        .maas model (from maas-convert)\n"
        "  -p, --prompt TEXT       prompt text (UTF-8)\n"
        "  -f, --file FILE         read the prompt from FILE\n"
        "  -n, --n-predict N       tokens to generate (default 128; -1: until\n"
        "                          <|endoftext|> or the context window is full;\n"
        "                          0: only the prompt pass)\n"
        "  -t, --threads N         threads (default: all cores)\n"
        "  -c, --ctx-size N        context window in tokens (default: the\n"
        "                          model's n_positions)\n"
        "  -b, --batch-size N      prompt tokens per batched pass (default 128)\n"
        "      --temp T            temperature, 0 or more (default 0.8; 0: greedy)\n"
        "      --top-k K           keep the K most likely tokens (default 40;\n"
        "                          0: all)\n"
        "      --top-p P           keep the smallest set of tokens whose\n"
        "                          probability reaches P (default 0.95; 1: all)\n"
        "      --min-p P           drop tokens below P times the best one's\n"
        "                          probability (default 0.05; 0: off)\n"
        "      --repeat-penalty R  divide the logits of tokens already in the\n"
        "                          context by R (default 1.0: off)\n"
        "  -s, --seed S            random seed, 0..18446744073709551615 (default\n"
        "                          -1: a random one, printed to stderr to repeat\n"
        "                          the run; 18446744073709551615 also picks one)\n"
        "      --stop TEXT         stop before TEXT (may be repeated, up to %d)\n"
        "      --ignore-eos        keep going after <|endoftext|>\n"
        "      --ids               print the generated token ids, space-separated,\n"
        "                          instead of text\n"
        "      --logits-out FILE   write the logits of every prompt position\n"
        "                          (float32 little-endian, n_prompt x vocab,\n"
        "                          row-major) after the prompt pass\n"
        "  -h, --help              show this help\n",
        MAX_STOP);
}

static char *read_whole_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "maas-generate: cannot open prompt file %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        cap *= 2;
        char *grown = realloc(buf, cap);
        if (!grown) {
            free(buf);
            buf = NULL;
        } else {
            buf = grown;
        }
    }
    if (!buf || ferror(fp)) {
        fprintf(stderr, "maas-generate: cannot read %s\n", path);
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

/* ---- output ----------------------------------------------------------------- */

static bool print_text(const char *text, size_t len, void *user)
{
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

static bool print_id(int32_t id, void *user)
{
    int *count = user;
    printf("%s%d", *count ? " " : "", id);
    fflush(stdout);
    (*count)++;
    return true;
}

/* Evaluates the prompt with every position's logits and writes them. */
static int write_prompt_logits(maas_gpt2_context *ctx, const int32_t *ids,
                               int n, int vocab, const char *path)
{
    float *logits = malloc((size_t)n * (size_t)vocab * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "maas-generate: out of memory for %d x %d logits\n",
                n, vocab);
        return 1;
    }
    maas_status st = maas_gpt2_eval(ctx, ids, n, logits);
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-generate: prompt pass failed: %s\n",
                maas_last_error());
        free(logits);
        return 1;
    }
    /* x86 and every other platform libmaas builds on are little-endian. */
    FILE *fp = fopen(path, "wb");
    size_t count = (size_t)n * (size_t)vocab;
    if (!fp || fwrite(logits, sizeof(float), count, fp) != count ||
        fclose(fp) != 0) {
        fprintf(stderr, "maas-generate: cannot write %s: %s\n", path,
                strerror(errno));
        free(logits);
        return 1;
    }
    free(logits);
    return 0;
}

int main(int argc, char **argv)
{
    cli_program = "maas-generate";
    const char *model_path = NULL, *prompt_arg = NULL, *prompt_file = NULL;
    const char *logits_path = NULL;
    const char *stops[MAX_STOP];
    int n_stop = 0;
    bool print_ids = false;
    maas_gpt2_context_params cp;
    maas_gpt2_context_params_default(&cp);
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    /* llama.cpp's defaults. */
    gp.sampling.temperature = 0.8f;
    gp.sampling.top_k = 40;
    gp.sampling.top_p = 0.95f;
    gp.sampling.min_p = 0.05f;
    gp.max_new_tokens = 128;

    enum { OPT_TEMP = 256, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT,
           OPT_STOP, OPT_IGNORE_EOS, OPT_IDS, OPT_LOGITS };
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'},
        {"prompt", required_argument, 0, 'p'},
        {"file", required_argument, 0, 'f'},
        {"n-predict", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 't'},
        {"ctx-size", required_argument, 0, 'c'},
        {"batch-size", required_argument, 0, 'b'},
        {"seed", required_argument, 0, 's'},
        {"temp", required_argument, 0, OPT_TEMP},
        {"top-k", required_argument, 0, OPT_TOP_K},
        {"top-p", required_argument, 0, OPT_TOP_P},
        {"min-p", required_argument, 0, OPT_MIN_P},
        {"repeat-penalty", required_argument, 0, OPT_REPEAT},
        {"stop", required_argument, 0, OPT_STOP},
        {"ignore-eos", no_argument, 0, OPT_IGNORE_EOS},
        {"ids", no_argument, 0, OPT_IDS},
        {"logits-out", required_argument, 0, OPT_LOGITS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "m:p:f:n:t:c:b:s:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'p': prompt_arg = optarg; break;
        case 'f': prompt_file = optarg; break;
        case 'n': gp.max_new_tokens = (int)cli_parse_int("-n", optarg, -1, 1 << 30); break;
        case 't': cp.n_threads = (int)cli_parse_int("-t", optarg, 1, 1024); break;
        case 'c': cp.n_ctx = (int)cli_parse_int("-c", optarg, 1, 1 << 30); break;
        case 'b': cp.n_batch = (int)cli_parse_int("-b", optarg, 1, 1 << 30); break;
        case 's':
            if (!cli_parse_seed("--seed", optarg, &gp.sampling.seed))
                gp.sampling.seed = MAAS_SEED_RANDOM;
            break;
        case OPT_TEMP:
            gp.sampling.temperature = (float)cli_parse_float("--temp", optarg, 0, FLT_MAX);
            break;
        case OPT_TOP_K:
            gp.sampling.top_k = (int)cli_parse_int("--top-k", optarg, 0, 1 << 30);
            break;
        case OPT_TOP_P:
            gp.sampling.top_p = (float)cli_parse_float("--top-p", optarg, 0, 1);
            break;
        case OPT_MIN_P:
            gp.sampling.min_p = (float)cli_parse_float("--min-p", optarg, 0, 1);
            break;
        case OPT_REPEAT:
            /* The penalty must be above 0, and FLT_TRUE_MIN is the smallest
             * float that is. */
            gp.sampling.repetition_penalty =
                (float)cli_parse_float("--repeat-penalty", optarg, FLT_TRUE_MIN, FLT_MAX);
            break;
        case OPT_STOP:
            if (n_stop == MAX_STOP) {
                fprintf(stderr, "maas-generate: at most %d --stop strings\n", MAX_STOP);
                return 2;
            }
            stops[n_stop++] = optarg;
            break;
        case OPT_IGNORE_EOS: gp.ignore_eos = true; break;
        case OPT_IDS: print_ids = true; break;
        case OPT_LOGITS: logits_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "maas-generate: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!model_path || (!prompt_arg == !prompt_file)) {
        fprintf(stderr, "maas-generate: %s\n", !model_path
                ? "missing -m MODEL.maas"
                : "give the prompt with exactly one of -p TEXT and -f FILE");
        usage(stderr);
        return 2;
    }
    /* Writing the logits over the model would truncate the mapped file
     * under the program, and writing them over the prompt file would
     * destroy the input. */
    cli_check_output("--logits-out", logits_path, model_path);
    cli_check_output("--logits-out", logits_path, prompt_file);
    if (maas_sampling_params_validate(&gp.sampling) != MAAS_OK) {
        fprintf(stderr, "maas-generate: %s\n", maas_last_error());
        return 2;
    }
    /* -n -1 is the library's 0, "until the window is full"; -n 0 only
     * runs the prompt pass (useful with --logits-out). */
    bool generate = gp.max_new_tokens != 0;
    if (gp.max_new_tokens < 0)
        gp.max_new_tokens = 0;

    /* The prompt. */
    size_t prompt_len;
    char *prompt_buf = NULL;
    const char *prompt = prompt_arg;
    if (prompt_file) {
        prompt_buf = read_whole_file(prompt_file, &prompt_len);
        if (!prompt_buf)
            return 1;
        prompt = prompt_buf;
    } else {
        prompt_len = strlen(prompt_arg);
    }

    /* Model and context. */
    maas_gpt2 *model = NULL;
    maas_gpt2_context *ctx = NULL;
    maas_encoding enc = {0};
    int status = 1;
    if (maas_gpt2_open(model_path, &model) != MAAS_OK) {
        fprintf(stderr, "maas-generate: cannot load model %s: %s\n", model_path,
                maas_last_error());
        goto done;
    }
    const maas_gpt2_config *cfg = maas_gpt2_get_config(model);
    const maas_tokenizer *tok = maas_gpt2_get_tokenizer(model);
    if (!tok) {
        fprintf(stderr, "maas-generate: %s has no tokenizer; convert the "
                "checkpoint folder with its vocab.json and merges.txt\n",
                model_path);
        goto done;
    }
    if (maas_gpt2_context_create(model, &cp, &ctx) != MAAS_OK) {
        fprintf(stderr, "maas-generate: %s\n", maas_last_error());
        goto done;
    }

    /* Tokenize as the Hugging Face tokenizer does by default. */
    maas_encode_options eo = {.add_special = false, .parse_special = true};
    if (maas_tokenizer_encode(tok, prompt, prompt_len, &eo, &enc) != MAAS_OK) {
        fprintf(stderr, "maas-generate: cannot tokenize the prompt: %s\n",
                maas_last_error());
        goto done;
    }
    if (enc.n == 0) {
        fprintf(stderr, "maas-generate: the prompt is empty\n");
        goto done;
    }
    if (enc.n > maas_gpt2_context_capacity(ctx)) {
        fprintf(stderr, "maas-generate: the prompt has %d tokens but the "
                "context window is %d; shorten it\n", enc.n,
                maas_gpt2_context_capacity(ctx));
        goto done;
    }
    if (logits_path &&
        write_prompt_logits(ctx, enc.ids, enc.n, cfg->vocab_size, logits_path))
        goto done;
    if (!generate) {
        status = 0;
        goto done;
    }

    /* Generate, streaming to stdout.  A prompt pass done for --logits-out
     * is reused from the KV cache. */
    int n_printed = 0;
    gp.stop = stops;
    gp.n_stop = n_stop;
    if (print_ids) {
        gp.on_token = print_id;
        gp.user = &n_printed;
    } else {
        gp.on_text = print_text;
    }
    maas_gpt2_generate_result r;
    maas_status st = maas_gpt2_generate_tokens(ctx, enc.ids, enc.n, &gp, &r);
    printf("\n");
    fflush(stdout);
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-generate: generation failed after %d tokens: "
                "%s (%s)\n", r.n_generated, maas_last_error(),
                maas_status_name(st));
        goto done;
    }

    /* Timings: the prompt pass, then the decoding steps.  Greedy decoding
     * draws no random numbers, so it prints no seed. */
    int n_prompt_eval = r.n_prompt - r.n_prompt_cached;
    bool greedy = gp.sampling.temperature <= 0.0f || gp.sampling.top_k == 1;
    if (greedy)
        fprintf(stderr, "maas-generate: greedy decoding, stopped by %s\n",
                maas_stop_reason_name(r.stop_reason));
    else
        fprintf(stderr, "maas-generate: seed %llu, stopped by %s\n",
                (unsigned long long)r.seed, maas_stop_reason_name(r.stop_reason));
    fprintf(stderr, "maas-generate: prompt %d tokens in %.3f s (%.1f tokens/s)\n",
            n_prompt_eval, r.prompt_seconds,
            r.prompt_seconds > 0 ? n_prompt_eval / r.prompt_seconds : 0.0);
    if (r.n_generated > 1)
        fprintf(stderr, "maas-generate: generated %d tokens in %.3f s "
                "(%.1f tokens/s)\n", r.n_generated, r.generate_seconds,
                (r.n_generated - 1) / r.generate_seconds);
    status = 0;

done:
    maas_encoding_free(&enc);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
    free(prompt_buf);
    return status;
}
