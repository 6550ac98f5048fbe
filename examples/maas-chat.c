/* maas-chat: a terminal assistant on a GPT-2 model.
 *
 *   maas-chat -m gpt2.maas              interactive: type, the reply streams
 *   echo "你好" | maas-chat -m gpt2.maas  one-shot: stdin is one message,
 *                                        the reply goes to stdout
 *
 * GPT-2 is not trained for dialogue, so the conversation is written as a
 * plain transcript that the model continues (the prompt template):
 *
 *     <system line>
 *     User: <message 1>
 *     Assistant: <reply 1>
 *     User: <message 2>
 *     Assistant:
 *
 * The reply ends at <|endoftext|>, at a blank line, or where the model
 * starts a "User:" or "Assistant:" line of its own.  The whole transcript
 * is the prompt of every turn; the KV cache keeps the part already seen, so
 * a turn costs only its new tokens.
 *
 * Each turn keeps room for a reply of -n tokens (at most a quarter of the
 * window).  When the transcript and that room no longer fit in the context
 * window, the oldest turns (message and reply together) are dropped from the
 * start of the transcript, right after the system line, until they fit.  A
 * note on stderr says how many. */
#include <float.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "maas.h"

#define DEFAULT_SYSTEM "A conversation between a user and a helpful assistant."

static void usage(FILE *out)
{
    fprintf(out,
        "usage: maas-chat -m MODEL.maas [options]\n"
        "\n"
        "Chats with a GPT-2 model.  On a terminal each line you type is a\n"
        "message and the reply streams back; /reset starts a new\n"
        "conversation and /quit (or end of input) leaves.  When stdin is not\n"
        "a terminal, all of it is one message and only the reply is printed\n"
        "(one-shot mode for scripts).\n"
        "\n"
        "The prompt is a plain transcript: the system line, then \"User: ...\"\n"
        "and \"Assistant: ...\" lines, ending with \"Assistant:\".  When it no\n"
        "longer fits in the window, the oldest turns are dropped first.\n"
        "\n"
        "  -m, --model FILE        .maas model (from maas-convert)\n"
        "      --system TEXT       first line of the transcript (default:\n"
        "                          \"%s\")\n"
        "  -n, --n-predict N       longest reply in tokens (default 200)\n"
        "  -t, --threads N         threads (default: all cores)\n"
        "  -c, --ctx-size N        context window in tokens (default: the\n"
        "                          model's n_positions)\n"
        "      --temp T            temperature, 0 or more (default 0.8; 0: greedy)\n"
        "      --top-k K           default 40 (0: off)\n"
        "      --top-p P           default 0.95 (1: off)\n"
        "      --min-p P           default 0.05 (0: off)\n"
        "      --repeat-penalty R  default 1.1 (1: off)\n"
        "  -s, --seed S            random seed, 0..18446744073709551615 (default\n"
        "                          -1: a random one per reply;\n"
        "                          18446744073709551615 also picks one)\n"
        "  -i, --interactive       turn-by-turn even when stdin is not a\n"
        "                          terminal (one message per line)\n"
        "  -h, --help              show this help\n",
        DEFAULT_SYSTEM);
}

/* ---- the conversation ------------------------------------------------------- */

typedef struct turn {
    char *message;
    char *reply;   /* as generated, with the model's leading space */
} turn;

typedef struct chat {
    maas_gpt2 *model;
    maas_gpt2_context *ctx;
    const char *system;
    turn *turns;
    int n_turns, cap_turns;
    int max_reply;
    maas_gpt2_generate_params gp;

    /* The reply being generated. */
    char *reply;
    size_t reply_len, reply_cap;
    bool printed_any;   /* leading spaces are not printed */
} chat;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Appends text to a growing malloc'ed string; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *text,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = (*len + n + 1) * 2;
        char *grown = realloc(*buf, want);
        if (!grown)
            return false;
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static bool append_str(char **buf, size_t *len, size_t *cap, const char *text)
{
    return append(buf, len, cap, text, strlen(text));
}

/* Writes the transcript from turn `first` on, ending with the new message
 * and "Assistant:".  Returns a malloc'ed string or NULL. */
static char *build_prompt(const chat *c, int first, const char *message)
{
    char *p = NULL;
    size_t len = 0, cap = 0;
    bool ok = append_str(&p, &len, &cap, c->system) &&
              append_str(&p, &len, &cap, "\n");
    for (int i = first; ok && i < c->n_turns; i++)
        ok = append_str(&p, &len, &cap, "User: ") &&
             append_str(&p, &len, &cap, c->turns[i].message) &&
             append_str(&p, &len, &cap, "\nAssistant:") &&
             append_str(&p, &len, &cap, c->turns[i].reply) &&
             append_str(&p, &len, &cap, "\n");
    ok = ok && append_str(&p, &len, &cap, "User: ") &&
         append_str(&p, &len, &cap, message) &&
         append_str(&p, &len, &cap, "\nAssistant:");
    if (!ok) {
        free(p);
        return NULL;
    }
    return p;
}

static int count_tokens(const chat *c, const char *text)
{
    maas_encoding enc = {0};
    maas_encode_options eo = {.add_special = false, .parse_special = true};
    if (maas_tokenizer_encode(maas_gpt2_get_tokenizer(c->model), text,
                              strlen(text), &eo, &enc) != MAAS_OK)
        return -1;
    int n = enc.n;
    maas_encoding_free(&enc);
    return n;
}

static void drop_oldest_turns(chat *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c->turns[i].message);
        free(c->turns[i].reply);
    }
    memmove(c->turns, c->turns + n, (size_t)(c->n_turns - n) * sizeof *c->turns);
    c->n_turns -= n;
}

static void reset_chat(chat *c)
{
    drop_oldest_turns(c, c->n_turns);
    maas_gpt2_context_reset(c->ctx);
}

/* Streams the reply to stdout, without its leading spaces, and keeps it. */
static bool on_reply_text(const char *text, size_t len, void *user)
{
    chat *c = user;
    if (!append(&c->reply, &c->reply_len, &c->reply_cap, text, len))
        return false;
    if (!c->printed_any) {
        while (len > 0 && *text == ' ') {
            text++;
            len--;
        }
        c->printed_any = len > 0;
    }
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return !interrupted;
}

/* Outcome of one turn. */
typedef enum turn_status {
    TURN_DONE,      /* the reply was streamed and recorded */
    TURN_REJECTED,  /* the message could not be used; the chat goes on */
    TURN_FATAL,     /* out of memory or a broken model: end the program */
} turn_status;

/* Runs one turn: fits the transcript in the window, streams the reply and
 * records it. */
static turn_status chat_turn(chat *c, const char *message)
{
    const int window = maas_gpt2_context_capacity(c->ctx);
    int reserve = c->max_reply < window / 4 ? c->max_reply : window / 4;

    /* Drop the oldest turns until transcript + reply room fit. */
    int first = 0;
    char *prompt = NULL;
    for (; first <= c->n_turns; first++) {
        free(prompt);
        prompt = build_prompt(c, first, message);
        if (!prompt) {
            fprintf(stderr, "maas-chat: out of memory\n");
            return TURN_FATAL;
        }
        int n = count_tokens(c, prompt);
        if (n < 0) {
            fprintf(stderr, "maas-chat: cannot tokenize the message: %s\n",
                    maas_last_error());
            free(prompt);
            return TURN_REJECTED;
        }
        if (n + reserve <= window)
            break;
    }
    if (first > c->n_turns) {
        fprintf(stderr, "maas-chat: the message is too long for the %d-token "
                "window (with %d tokens kept for the reply); shorten it\n",
                window, reserve);
        free(prompt);
        return TURN_REJECTED;
    }
    if (first > 0) {
        fprintf(stderr, "[dropped the %d oldest turn%s to fit the %d-token "
                "window]\n", first, first == 1 ? "" : "s", window);
        drop_oldest_turns(c, first);
    }

    /* Generate and stream. */
    c->reply_len = 0;
    c->printed_any = false;
    if (!append_str(&c->reply, &c->reply_len, &c->reply_cap, "")) {
        free(prompt);
        return TURN_FATAL;
    }
    interrupted = 0;
    maas_gpt2_generate_result r;
    maas_status st = maas_gpt2_generate(c->ctx, prompt, strlen(prompt), &c->gp, &r);
    free(prompt);
    printf("\n");
    fflush(stdout);
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-chat: generation failed: %s (%s)\n",
                maas_last_error(), maas_status_name(st));
        return st == MAAS_ERR_NON_FINITE || st == MAAS_ERR_OUT_OF_MEMORY
                   ? TURN_FATAL : TURN_REJECTED;
    }

    /* Keep the turn for the next prompt. */
    if (c->n_turns == c->cap_turns) {
        int cap = c->cap_turns ? 2 * c->cap_turns : 16;
        turn *grown = realloc(c->turns, (size_t)cap * sizeof *grown);
        if (!grown)
            return TURN_FATAL;
        c->turns = grown;
        c->cap_turns = cap;
    }
    turn *t = &c->turns[c->n_turns];
    t->message = strdup(message);
    t->reply = strdup(c->reply);
    if (!t->message || !t->reply) {
        free(t->message);
        free(t->reply);
        return TURN_FATAL;
    }
    c->n_turns++;
    return TURN_DONE;
}

/* ---- input ----------------------------------------------------------------------- */

/* Removes trailing newlines and carriage returns in place. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int run_interactive(chat *c, bool on_terminal)
{
    char *line = NULL;
    size_t cap = 0;
    if (on_terminal)
        fprintf(stderr, "Type a message and press Enter.  /reset starts over, "
                "/quit leaves.\n");
    for (;;) {
        if (on_terminal) {
            printf("> ");
            fflush(stdout);
        }
        interrupted = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        chomp(line);
        if (line[0] == '\0')
            continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit"))
            break;
        if (!strcmp(line, "/reset")) {
            reset_chat(c);
            printf("(new conversation)\n");
            continue;
        }
        if (line[0] == '/') {
            fprintf(stderr, "maas-chat: unknown command %s (try /reset or "
                    "/quit)\n", line);
            continue;
        }
        if (chat_turn(c, line) == TURN_FATAL) {
            free(line);
            return 1;
        }
    }
    free(line);
    return 0;
}

static int run_one_shot(chat *c)
{
    char *message = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (!append(&message, &len, &cap, buf, n)) {
            fprintf(stderr, "maas-chat: out of memory\n");
            free(message);
            return 1;
        }
    if (!message || message[strspn(message, " \t\r\n")] == '\0') {
        fprintf(stderr, "maas-chat: no message on stdin\n");
        free(message);
        return 1;
    }
    chomp(message);
    int status = chat_turn(c, message) == TURN_DONE ? 0 : 1;
    free(message);
    return status;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    cli_program = "maas-chat";
    static const char *const stops[] = {"\nUser:", "\nAssistant:", "\n\n"};
    const char *model_path = NULL;
    bool force_interactive = false;
    chat c = {.system = DEFAULT_SYSTEM, .max_reply = 200};
    maas_gpt2_context_params cp;
    maas_gpt2_context_params_default(&cp);
    maas_gpt2_generate_params_default(&c.gp);
    c.gp.sampling.temperature = 0.8f;
    c.gp.sampling.top_k = 40;
    c.gp.sampling.top_p = 0.95f;
    c.gp.sampling.min_p = 0.05f;
    c.gp.sampling.repetition_penalty = 1.1f;

    enum { OPT_TEMP = 256, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT,
           OPT_SYSTEM };
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'},
        {"n-predict", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 't'},
        {"ctx-size", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'},
        {"interactive", no_argument, 0, 'i'},
        {"temp", required_argument, 0, OPT_TEMP},
        {"top-k", required_argument, 0, OPT_TOP_K},
        {"top-p", required_argument, 0, OPT_TOP_P},
        {"min-p", required_argument, 0, OPT_MIN_P},
        {"repeat-penalty", required_argument, 0, OPT_REPEAT},
        {"system", required_argument, 0, OPT_SYSTEM},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "m:n:t:c:s:ih", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'n': c.max_reply = (int)cli_parse_int("-n", optarg, 1, 1 << 30); break;
        case 't': cp.n_threads = (int)cli_parse_int("-t", optarg, 1, 1024); break;
        case 'c': cp.n_ctx = (int)cli_parse_int("-c", optarg, 1, 1 << 30); break;
        case 's':
            if (!cli_parse_seed("--seed", optarg, &c.gp.sampling.seed))
                c.gp.sampling.seed = MAAS_SEED_RANDOM;
            break;
        case 'i': force_interactive = true; break;
        case OPT_TEMP:
            c.gp.sampling.temperature = (float)cli_parse_float("--temp", optarg, 0, FLT_MAX);
            break;
        case OPT_TOP_K:
            c.gp.sampling.top_k = (int)cli_parse_int("--top-k", optarg, 0, 1 << 30);
            break;
        case OPT_TOP_P:
            c.gp.sampling.top_p = (float)cli_parse_float("--top-p", optarg, 0, 1);
            break;
        case OPT_MIN_P:
            c.gp.sampling.min_p = (float)cli_parse_float("--min-p", optarg, 0, 1);
            break;
        case OPT_REPEAT:
            /* The penalty must be above 0, and FLT_TRUE_MIN is the smallest
             * float that is. */
            c.gp.sampling.repetition_penalty =
                (float)cli_parse_float("--repeat-penalty", optarg, FLT_TRUE_MIN, FLT_MAX);
            break;
        case OPT_SYSTEM: c.system = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "maas-chat: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!model_path) {
        fprintf(stderr, "maas-chat: missing -m MODEL.maas\n");
        usage(stderr);
        return 2;
    }
    if (maas_sampling_params_validate(&c.gp.sampling) != MAAS_OK) {
        fprintf(stderr, "maas-chat: %s\n", maas_last_error());
        return 2;
    }
    c.gp.max_new_tokens = c.max_reply;
    c.gp.stop = stops;
    c.gp.n_stop = (int)(sizeof stops / sizeof stops[0]);
    c.gp.on_text = on_reply_text;
    c.gp.user = &c;

    /* Model and context. */
    int status = 1;
    if (maas_gpt2_open(model_path, &c.model) != MAAS_OK) {
        fprintf(stderr, "maas-chat: cannot load model %s: %s\n", model_path,
                maas_last_error());
        return 1;
    }
    if (!maas_gpt2_get_tokenizer(c.model)) {
        fprintf(stderr, "maas-chat: %s has no tokenizer; convert the "
                "checkpoint folder with its vocab.json and merges.txt\n",
                model_path);
        goto done;
    }
    if (maas_gpt2_context_create(c.model, &cp, &c.ctx) != MAAS_OK) {
        fprintf(stderr, "maas-chat: %s\n", maas_last_error());
        goto done;
    }

    /* Ctrl-C stops a reply; at the prompt it leaves. */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    bool on_terminal = isatty(STDIN_FILENO);
    if (on_terminal || force_interactive)
        status = run_interactive(&c, on_terminal);
    else
        status = run_one_shot(&c);

done:
    drop_oldest_turns(&c, c.n_turns);
    free(c.turns);
    free(c.reply);
    maas_gpt2_context_free(c.ctx);
    maas_gpt2_free(c.model);
    return status;
}
