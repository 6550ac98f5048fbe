/* The server's model-free parts: stop strings over streamed text, UTF-8
 * validation, base64, JSON parameter checks, the slot pool and the chat
 * template.  The HTTP behaviour is tested by tools/test-server.sh. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/server_internal.h"

/* ---- stop strings ---- */

/* Feeds `pieces` one by one and returns everything handed out, joined. */
static char *run_stopper(const char *const *stops, int n_stops, const char *const *pieces,
                         int n_pieces, bool *stopped)
{
    size_t lens[8];
    for (int i = 0; i < n_stops; i++)
        lens[i] = strlen(stops[i]);
    maas_srv_stopper st;
    maas_srv_stopper_init(&st, stops, lens, n_stops);

    char *out = calloc(1, 1024);
    assert_non_null(out);
    for (int i = 0; i < n_pieces; i++) {
        const char *text;
        size_t n;
        assert_int_equal(maas_srv_stopper_push(&st, pieces[i], strlen(pieces[i]), &text, &n),
                         MAAS_OK);
        strncat(out, text, n);
    }
    const char *rest;
    size_t rest_len;
    maas_srv_stopper_finish(&st, &rest, &rest_len);
    strncat(out, rest, rest_len);

    /* The handed-out pieces add up to the final text. */
    size_t final_len;
    const char *final = maas_srv_stopper_text(&st, &final_len);
    assert_int_equal(final_len, strlen(out));
    assert_memory_equal(final, out, final_len);
    *stopped = st.stopped;
    maas_srv_stopper_free(&st);
    return out;
}

static void stop_string_split_across_pieces(void **state)
{
    (void)state;
    const char *stops[] = {"\nUser:"};
    const char *pieces[] = {"Hello", " there\n", "Us", "er: more", " text"};
    bool stopped;
    char *out = run_stopper(stops, 1, pieces, 5, &stopped);
    assert_string_equal(out, "Hello there");
    assert_true(stopped);
    free(out);
}

static void stop_prefix_released_when_not_matched(void **state)
{
    (void)state;
    const char *stops[] = {"END"};
    const char *pieces[] = {"the E", "N", "D", "X"};
    bool stopped;
    char *out = run_stopper(stops, 1, pieces, 3, &stopped);
    assert_string_equal(out, "the ");
    assert_true(stopped);
    free(out);

    const char *other[] = {"the E", "N", "d"};
    out = run_stopper(stops, 1, other, 3, &stopped);
    assert_string_equal(out, "the ENd");
    assert_false(stopped);
    free(out);
}

static void stop_held_back_text_never_sent_early(void **state)
{
    (void)state;
    const char *stops[] = {"abc"};
    size_t lens[] = {3};
    maas_srv_stopper st;
    maas_srv_stopper_init(&st, stops, lens, 1);
    const char *text;
    size_t n;
    assert_int_equal(maas_srv_stopper_push(&st, "xxab", 4, &text, &n), MAAS_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(text, "xx", 2);
    assert_int_equal(maas_srv_stopper_push(&st, "c", 1, &text, &n), MAAS_OK);
    assert_int_equal(n, 0);
    assert_true(st.stopped);
    assert_int_equal(maas_srv_stopper_push(&st, "more", 4, &text, &n), MAAS_OK);
    assert_int_equal(n, 0);
    maas_srv_stopper_free(&st);
}

static void stop_earliest_of_several_wins(void **state)
{
    (void)state;
    const char *stops[] = {"world", "lo w"};
    const char *pieces[] = {"hello world"};
    bool stopped;
    char *out = run_stopper(stops, 2, pieces, 1, &stopped);
    assert_string_equal(out, "hel");
    free(out);
}

static void stop_none_passes_everything(void **state)
{
    (void)state;
    const char *pieces[] = {"a", "", "bc"};
    bool stopped;
    char *out = run_stopper(NULL, 0, pieces, 3, &stopped);
    assert_string_equal(out, "abc");
    assert_false(stopped);
    free(out);
}

/* ---- UTF-8 and base64 ---- */

static void utf8_valid_and_invalid(void **state)
{
    (void)state;
    assert_int_equal(maas_srv_utf8_invalid_at("plain", 5), -1);
    assert_int_equal(maas_srv_utf8_invalid_at("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14), -1);
    assert_int_equal(maas_srv_utf8_invalid_at("ab\xff", 3), 2);          /* never a lead byte */
    assert_int_equal(maas_srv_utf8_invalid_at("a\xc3", 2), 1);           /* truncated */
    assert_int_equal(maas_srv_utf8_invalid_at("a\xc3(", 3), 1);          /* bad continuation */
    assert_int_equal(maas_srv_utf8_invalid_at("\xc0\xaf", 2), 0);        /* overlong '/' */
    assert_int_equal(maas_srv_utf8_invalid_at("\xe0\x80\xaf", 3), 0);    /* overlong */
    assert_int_equal(maas_srv_utf8_invalid_at("x\xed\xa0\x80", 4), 1);   /* surrogate D800 */
    assert_int_equal(maas_srv_utf8_invalid_at("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    assert_int_equal(maas_srv_utf8_invalid_at("\x80", 1), 0);            /* lone continuation */
}

static void base64_rfc4648_vectors(void **state)
{
    (void)state;
    /* The test vectors of RFC 4648, section 10. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *got = maas_srv_base64(in[i], strlen(in[i]));
        assert_non_null(got);
        assert_string_equal(got, want[i]);
        free(got);
    }

    /* 1.0f is 0x3f800000, little-endian bytes 00 00 80 3f. */
    float one = 1.0f;
    char *got = maas_srv_base64(&one, sizeof one);
    assert_string_equal(got, "AACAPw==");
    free(got);
}

/* ---- JSON parameters ---- */

static void params_ranges_and_types(void **state)
{
    (void)state;
    cJSON *body = cJSON_Parse("{\"a\": 5, \"b\": 2.5, \"c\": \"s\", \"d\": true, \"e\": null,"
                              " \"f\": -1, \"g\": 1e300}");
    assert_non_null(body);
    maas_srv_error err = {0};
    long long i = 42;
    double x = 7.0;

    assert_true(maas_srv_get_int(body, "a", 1, 10, &i, &err));
    assert_int_equal(i, 5);
    assert_true(maas_srv_get_int(body, "missing", 1, 10, &i, &err));
    assert_int_equal(i, 5);
    assert_true(maas_srv_get_int(body, "e", 1, 10, &i, &err));  /* null keeps the default */
    assert_int_equal(i, 5);

    assert_false(maas_srv_get_int(body, "b", 1, 10, &i, &err));  /* not whole */
    assert_string_equal(err.param, "b");
    assert_false(maas_srv_get_int(body, "c", 1, 10, &i, &err));  /* a string */
    assert_false(maas_srv_get_int(body, "f", 1, 10, &i, &err));  /* below */
    assert_false(maas_srv_get_int(body, "g", 1, 10, &i, &err));  /* far above */
    assert_non_null(strstr(err.message, "between 1 and 10"));

    assert_true(maas_srv_get_number(body, "b", 0.0, 2.5, &x, &err));
    assert_true(x == 2.5);
    assert_false(maas_srv_get_number(body, "b", 0.0, 2.0, &x, &err));
    assert_false(maas_srv_get_number(body, "d", 0.0, 2.0, &x, &err));

    bool flag = false;
    assert_true(maas_srv_get_bool(body, "d", &flag, &err));
    assert_true(flag);
    assert_false(maas_srv_get_bool(body, "a", &flag, &err));
    cJSON_Delete(body);
}

static void params_text_lists(void **state)
{
    (void)state;
    cJSON *body = cJSON_Parse("{\"one\": \"x\", \"two\": [\"a\", \"bc\"], \"empty\": [],"
                              " \"mixed\": [\"a\", 3], \"num\": 4}");
    assert_non_null(body);
    maas_srv_error err = {0};
    maas_srv_texts t;

    assert_true(maas_srv_get_texts(body, "one", 4, true, &t, &err));
    assert_int_equal(t.n, 1);
    assert_string_equal(t.text[0], "x");
    maas_srv_texts_free(&t);

    assert_true(maas_srv_get_texts(body, "two", 4, true, &t, &err));
    assert_int_equal(t.n, 2);
    assert_int_equal(t.len[1], 2);
    maas_srv_texts_free(&t);

    assert_false(maas_srv_get_texts(body, "two", 1, true, &t, &err));  /* too many */
    assert_false(maas_srv_get_texts(body, "empty", 4, true, &t, &err));
    assert_true(maas_srv_get_texts(body, "empty", 4, false, &t, &err));
    assert_int_equal(t.n, 0);
    maas_srv_texts_free(&t);
    assert_false(maas_srv_get_texts(body, "mixed", 4, true, &t, &err));
    assert_non_null(strstr(err.message, "mixed[1]"));
    assert_false(maas_srv_get_texts(body, "num", 4, true, &t, &err));
    assert_false(maas_srv_get_texts(body, "missing", 4, true, &t, &err));
    assert_true(maas_srv_get_texts(body, "missing", 4, false, &t, &err));
    assert_int_equal(t.n, 0);
    cJSON_Delete(body);
}

/* ---- chat template ---- */

static void chat_template_transcript(void **state)
{
    (void)state;
    cJSON *messages = cJSON_Parse(
        "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
        " {\"role\": \"user\", \"content\": \"Hi\"},"
        " {\"role\": \"assistant\", \"content\": \"Hello.\"},"
        " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Why?\"}]}]");
    maas_srv_error err = {0};
    char *prompt = maas_srv_chat_render(messages, &err);
    assert_non_null(prompt);
    assert_string_equal(prompt,
                        "Be brief.\nUser: Hi\nAssistant: Hello.\nUser: Why?\nAssistant:");
    free(prompt);
    cJSON_Delete(messages);

    /* Without a system message the template has a default first line. */
    messages = cJSON_Parse("[{\"role\": \"user\", \"content\": \"Hi\"}]");
    prompt = maas_srv_chat_render(messages, &err);
    assert_non_null(prompt);
    assert_string_equal(prompt, "A conversation between a user and a helpful assistant.\n"
                                "User: Hi\nAssistant:");
    free(prompt);
    cJSON_Delete(messages);

    const char *bad[] = {"[]", "{}", "[{\"role\": \"robot\", \"content\": \"x\"}]",
                         "[{\"role\": \"user\", \"content\": 3}]",
                         "[{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]"};
    for (int i = 0; i < 5; i++) {
        messages = cJSON_Parse(bad[i]);
        assert_null(maas_srv_chat_render(messages, &err));
        assert_string_equal(err.param, "messages");
        cJSON_Delete(messages);
    }
}

/* ---- slot pool ---- */

static void pool_full_queue_and_close(void **state)
{
    (void)state;
    maas_srv_pool pool;
    assert_int_equal(maas_srv_pool_init(&pool, 2, 0), MAAS_OK);
    int a = maas_srv_pool_acquire(&pool, NULL, NULL);
    int b = maas_srv_pool_acquire(&pool, NULL, NULL);
    assert_true(a >= 0 && b >= 0 && a != b);

    /* No queue: the third request is turned away at once. */
    assert_int_equal(maas_srv_pool_acquire(&pool, NULL, NULL), MAAS_SRV_POOL_FULL);
    maas_srv_pool_release(&pool, a);
    assert_int_equal(maas_srv_pool_acquire(&pool, NULL, NULL), a);

    maas_srv_pool_close(&pool);
    maas_srv_pool_release(&pool, a);
    assert_int_equal(maas_srv_pool_acquire(&pool, NULL, NULL), MAAS_SRV_POOL_CLOSED);
    maas_srv_pool_destroy(&pool);
}

typedef struct waiter_arg {
    maas_srv_pool *pool;
    int result;
} waiter_arg;

static void *wait_for_slot(void *p)
{
    waiter_arg *arg = p;
    arg->result = maas_srv_pool_acquire(arg->pool, NULL, NULL);
    return NULL;
}

static bool always_give_up(void *arg)
{
    (void)arg;
    return true;
}

static void pool_waiter_gets_released_slot(void **state)
{
    (void)state;
    maas_srv_pool pool;
    assert_int_equal(maas_srv_pool_init(&pool, 1, 1), MAAS_OK);
    int held = maas_srv_pool_acquire(&pool, NULL, NULL);
    assert_int_equal(held, 0);

    /* One waiter fits in the queue; wait until it is queued. */
    waiter_arg arg = {.pool = &pool, .result = 99};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, wait_for_slot, &arg), 0);
    int busy = 0, waiting = 0;
    while (waiting == 0) {
        maas_srv_pool_counts(&pool, &busy, &waiting);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    assert_int_equal(busy, 1);

    /* The queue is full now; a request that gives up is never queued. */
    assert_int_equal(maas_srv_pool_acquire(&pool, always_give_up, NULL), MAAS_SRV_POOL_FULL);

    maas_srv_pool_release(&pool, held);
    pthread_join(thread, NULL);
    assert_int_equal(arg.result, 0);
    maas_srv_pool_counts(&pool, &busy, &waiting);
    assert_int_equal(waiting, 0);
    maas_srv_pool_release(&pool, 0);
    maas_srv_pool_destroy(&pool);
}

static void pool_waiter_gives_up(void **state)
{
    (void)state;
    maas_srv_pool pool;
    assert_int_equal(maas_srv_pool_init(&pool, 1, 4), MAAS_OK);
    assert_int_equal(maas_srv_pool_acquire(&pool, NULL, NULL), 0);
    assert_int_equal(maas_srv_pool_acquire(&pool, always_give_up, NULL),
                     MAAS_SRV_POOL_GAVE_UP);
    int busy, waiting;
    maas_srv_pool_counts(&pool, &busy, &waiting);
    assert_int_equal(waiting, 0);
    maas_srv_pool_release(&pool, 0);
    maas_srv_pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stop_string_split_across_pieces),
        cmocka_unit_test(stop_prefix_released_when_not_matched),
        cmocka_unit_test(stop_held_back_text_never_sent_early),
        cmocka_unit_test(stop_earliest_of_several_wins),
        cmocka_unit_test(stop_none_passes_everything),
        cmocka_unit_test(utf8_valid_and_invalid),
        cmocka_unit_test(base64_rfc4648_vectors),
        cmocka_unit_test(params_ranges_and_types),
        cmocka_unit_test(params_text_lists),
        cmocka_unit_test(chat_template_transcript),
        cmocka_unit_test(pool_full_queue_and_close),
        cmocka_unit_test(pool_waiter_gets_released_slot),
        cmocka_unit_test(pool_waiter_gives_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
