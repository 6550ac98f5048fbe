/* Stop strings over streamed text: cut at the first match, and never send
 * text that might turn out to be the start of one. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "server/server_internal.h"

void maas_srv_stopper_init(maas_srv_stopper *st, const char *const *stops,
                           const size_t *stop_len, int n_stops)
{
    *st = (maas_srv_stopper){.stops = stops, .stop_len = stop_len, .n_stops = n_stops};
}

void maas_srv_stopper_free(maas_srv_stopper *st)
{
    free(st->text);
    st->text = NULL;
    st->len = st->cap = 0;
}

/* Returns the length of the longest suffix of text[from..len) that is a
 * proper prefix of some stop string; that much must wait for more text. */
static size_t held_back(const maas_srv_stopper *st, size_t from)
{
    size_t best = 0;
    for (int s = 0; s < st->n_stops; s++) {
        size_t n = st->stop_len[s];
        for (size_t k = n > 0 ? n - 1 : 0; k > best; k--) {
            if (k <= st->len - from &&
                memcmp(st->text + st->len - k, st->stops[s], k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

maas_status maas_srv_stopper_push(maas_srv_stopper *st, const char *piece, size_t n,
                                  const char **out, size_t *out_len)
{
    *out = "";
    *out_len = 0;
    if (st->stopped)
        return MAAS_OK;

    /* Append the piece. */
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 256;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *text = realloc(st->text, cap);
        if (!text)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow generated text to %zu bytes",
                             cap);
        st->text = text;
        st->cap = cap;
    }
    memcpy(st->text + st->len, piece, n);
    st->len += n;
    st->text[st->len] = '\0';

    /* A match can only start in text not yet sent, because sent text never
     * ends with the start of a stop string.  The earliest match wins. */
    size_t cut = st->len;
    for (int s = 0; s < st->n_stops; s++) {
        size_t k = st->stop_len[s];
        if (k == 0)
            continue;
        for (size_t at = st->sent; at < cut && at + k <= st->len; at++) {
            if (memcmp(st->text + at, st->stops[s], k) == 0) {
                cut = at;
                st->stopped = true;
                break;
            }
        }
    }
    if (st->stopped) {
        st->end = cut;
        st->len = cut;
        st->text[cut] = '\0';
    } else {
        cut = st->len - held_back(st, st->sent);
    }

    *out = st->text + st->sent;
    *out_len = cut - st->sent;
    st->sent = cut;
    return MAAS_OK;
}

void maas_srv_stopper_finish(maas_srv_stopper *st, const char **out, size_t *out_len)
{
    *out = st->text ? st->text + st->sent : "";
    *out_len = st->len - st->sent;
    st->sent = st->len;
}

const char *maas_srv_stopper_text(const maas_srv_stopper *st, size_t *len)
{
    *len = st->len;
    return st->text ? st->text : "";
}
