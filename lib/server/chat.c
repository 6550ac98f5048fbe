/* The chat prompt template, the same as examples/maas-chat.c uses.  GPT-2
 * was trained on plain web text and has no chat format of its own, so a
 * conversation is written as a transcript:
 *
 *     <system line>               (each system message on its own line;
 *     User: <content>              a default line when there is none)
 *     Assistant: <content>
 *     User: <content>
 *     Assistant:
 *
 * The model continues after the final "Assistant:".  The reply ends at
 * <|endoftext|>, at a blank line, or where the model starts a "User:" or
 * "Assistant:" line of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

const char *const maas_srv_chat_stops[MAAS_SRV_CHAT_N_STOPS] = {"\nUser:", "\nAssistant:",
                                                                 "\n\n"};

#define DEFAULT_SYSTEM "A conversation between a user and a helpful assistant."

typedef struct text_buffer {
    char *data;
    size_t len, cap;
    bool failed;
} text_buffer;

static void append(text_buffer *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void append_str(text_buffer *b, const char *s)
{
    append(b, s, strlen(s));
}

static bool fail_message(maas_srv_error *err, const char *fmt, int i)
{
    err->param = "messages";
    snprintf(err->message, sizeof err->message, fmt, i);
    return false;
}

/* Appends a message's content: a string, or a list of {"type": "text",
 * "text": ...} parts joined without separator. */
static bool append_content(text_buffer *b, const cJSON *content, int i, maas_srv_error *err)
{
    if (cJSON_IsString(content)) {
        append_str(b, content->valuestring);
        return true;
    }
    if (!cJSON_IsArray(content))
        return fail_message(err, "'messages[%d].content' must be a string or a list of "
                                 "text parts",
                            i);
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text))
            return fail_message(err, "'messages[%d].content' has a part that is not "
                                     "{\"type\": \"text\", \"text\": ...}; only text is "
                                     "supported",
                                i);
        append_str(b, text->valuestring);
    }
    return true;
}

char *maas_srv_chat_render(const cJSON *messages, maas_srv_error *err)
{
    if (!cJSON_IsArray(messages) || !messages->child) {
        fail_message(err, "'messages' must be a non-empty list of messages%.0d", 0);
        return NULL;
    }

    /* System lines first, wherever they appear in the list. */
    text_buffer b = {0};
    int i = 0;
    bool has_system = false;
    const cJSON *message;
    cJSON_ArrayForEach(message, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
        if (!cJSON_IsString(role) || (strcmp(role->valuestring, "system") != 0 &&
                                      strcmp(role->valuestring, "developer") != 0)) {
            i++;
            continue;
        }
        if (!append_content(&b, cJSON_GetObjectItemCaseSensitive(message, "content"), i, err))
            goto failed;
        append_str(&b, "\n");
        has_system = true;
        i++;
    }
    if (!has_system)
        append_str(&b, DEFAULT_SYSTEM "\n");

    /* Then the turns. */
    i = 0;
    cJSON_ArrayForEach(message, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
        if (!cJSON_IsObject(message) || !cJSON_IsString(role)) {
            fail_message(err, "'messages[%d]' must be an object with a string 'role'", i);
            goto failed;
        }

        const char *r = role->valuestring;
        if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
            /* Written above. */
        } else if (strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0) {
            append_str(&b, strcmp(r, "user") == 0 ? "User: " : "Assistant: ");
            if (!append_content(&b, content, i, err))
                goto failed;
            append_str(&b, "\n");
        } else {
            fail_message(err, "'messages[%d].role' must be system, developer, user or "
                              "assistant",
                         i);
            goto failed;
        }
        i++;
    }
    append_str(&b, "Assistant:");
    if (b.failed) {
        fail_message(err, "out of memory rendering 'messages'%.0d", 0);
        goto failed;
    }
    return b.data;

failed:
    free(b.data);
    return NULL;
}
