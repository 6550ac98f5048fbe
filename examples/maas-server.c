/* maas-server: serve one .maas model over HTTP with an OpenAI-compatible API.
 *
 *   build/bin/maas-server -m build/fixtures/gpt2-tiny.maas --port 8080
 *   curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \
 *        -d '{"model": "gpt2-tiny", "prompt": "Hello", "max_tokens": 8}'
 *
 * docs/SERVER.md describes the endpoints.  SIGINT or SIGTERM stops the
 * server: running requests get a few seconds to finish, then it exits 0. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "maas.h"
#include "maas/server.h"

/* Seconds that running requests get to finish after SIGINT or SIGTERM. */
#define GRACE_SECONDS 3.0

static void usage(FILE *out)
{
    fprintf(out,
            "usage: maas-server -m MODEL.maas [options]\n"
            "\n"
            "Serves a GPT-2 or BERT model with OpenAI's HTTP API (see docs/SERVER.md).\n"
            "\n"
            "options:\n"
            "  -m, --model PATH        .maas model file to serve (required)\n"
            "      --host ADDR         IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
            "      --port N            TCP port; 0 picks a free one (default 8080)\n"
            "  -t, --threads N         compute threads per request (default: cores / parallel)\n"
            "      --parallel N        request slots, each with its own context (default 2)\n"
            "      --queue N           requests that may wait for a slot; more get 503\n"
            "                          (default 16)\n"
            "      --api-key KEY       require 'Authorization: Bearer KEY' (default: none;\n"
            "                          also read from MAAS_API_KEY)\n"
            "      --model-id NAME     model name in responses (default: file name)\n"
            "      --max-body BYTES    largest request body; more gets 413 (default 1048576)\n"
            "      --max-connections N open connections; more are refused (default 128)\n"
            "      --timeout SECONDS   close a connection idle this long (default 10)\n"
            "      --no-access-log     do not log one line per request on stderr\n"
            "      --token-delay MS    pause after each generated token (for testing\n"
            "                          queueing and disconnects; default 0)\n"
            "  -h, --help              show this help\n");
}

/* Returns the value that follows `option`, or exits when there is none. */
static const char *option_value(const char *option, const char *value)
{
    if (!value) {
        fprintf(stderr, "maas-server: %s: missing value (see --help)\n", option);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    cli_program = "maas-server";
    maas_server_options opts;
    maas_server_options_default(&opts);
    opts.api_key = getenv("MAAS_API_KEY");

    /* Command line. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            opts.model_path = option_value(a, v);
        } else if (!strcmp(a, "--host")) {
            opts.host = option_value(a, v);
        } else if (!strcmp(a, "--port")) {
            opts.port = (int)cli_parse_int(a, option_value(a, v), 0, 65535);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            opts.n_threads = (int)cli_parse_int(a, option_value(a, v), 1, 1024);
        } else if (!strcmp(a, "--parallel")) {
            opts.n_parallel = (int)cli_parse_int(a, option_value(a, v), 1, 256);
        } else if (!strcmp(a, "--queue")) {
            opts.max_queue = (int)cli_parse_int(a, option_value(a, v), 0, 100000);
        } else if (!strcmp(a, "--api-key")) {
            opts.api_key = option_value(a, v);
        } else if (!strcmp(a, "--model-id")) {
            opts.model_id = option_value(a, v);
        } else if (!strcmp(a, "--max-body")) {
            opts.max_body_bytes = (size_t)cli_parse_int(a, option_value(a, v), 1024, INT_MAX);
        } else if (!strcmp(a, "--max-connections")) {
            opts.max_connections = (int)cli_parse_int(a, option_value(a, v), 1, 100000);
        } else if (!strcmp(a, "--timeout")) {
            opts.timeout_seconds = (int)cli_parse_int(a, option_value(a, v), 1, 86400);
        } else if (!strcmp(a, "--token-delay")) {
            opts.token_delay_ms = (int)cli_parse_int(a, option_value(a, v), 0, 10000);
        } else if (!strcmp(a, "--no-access-log")) {
            opts.access_log = false;
            takes_value = false;
        } else {
            fprintf(stderr, "maas-server: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (takes_value)
            i++;
    }
    if (!opts.model_path) {
        fprintf(stderr, "maas-server: no model given; pass -m MODEL.maas (see --help)\n");
        return 2;
    }

    /* Signals: block them in every thread, so the server's threads inherit
     * the mask and only sigwait below receives them.  A shell starts
     * background jobs with SIGINT ignored, and an ignored signal is dropped
     * even while blocked, so the default action is restored first.  A write
     * to a closed socket must not kill the process. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    maas_server *srv;
    maas_status st = maas_server_start(&opts, &srv);
    if (st != MAAS_OK) {
        fprintf(stderr, "maas-server: %s\n", maas_last_error());
        return 1;
    }
    fprintf(stderr, "maas-server: serving %s as '%s' on http://%s%s%s:%d/ (%d slots)\n",
            opts.model_path, maas_server_model_id(srv), strchr(opts.host, ':') ? "[" : "",
            opts.host, strchr(opts.host, ':') ? "]" : "", maas_server_port(srv),
            opts.n_parallel);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "maas-server: %s received, stopping (up to %.0f s for running "
                    "requests)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", GRACE_SECONDS);
    maas_server_stop(srv, GRACE_SECONDS);
    maas_server_free(srv);
    fprintf(stderr, "maas-server: stopped\n");
    return 0;
}
