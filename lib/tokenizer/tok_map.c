/* Hash maps of the tokenizers: vocabulary string -> id, and BPE merge
 * pair -> (rank, merged id).  Both are open-addressing tables with linear
 * probing, sized once at build time to at most half full, and read-only
 * afterwards, so lookups need no lock. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static uint32_t table_size(uint32_t capacity)
{
    uint32_t size = 16;
    while (size < 2 * (uint64_t)capacity + 1 && size < (1u << 30))
        size <<= 1;
    return size;
}

/* FNV-1a over the bytes, with a final mix so the low bits (the slot index)
 * depend on every byte.  Never returns 0, which marks an empty slot. */
uint32_t tok_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h ? h : 1;
}

maas_status tok_strmap_init(tok_strmap *m, uint32_t capacity,
                            const char *const *keys, const uint32_t *key_lens)
{
    uint32_t size = table_size(capacity);
    m->mask = size - 1;
    m->hashes = calloc(size, sizeof *m->hashes);
    m->ids = calloc(size, sizeof *m->ids);
    m->keys = keys;
    m->key_lens = key_lens;
    if (!m->hashes || !m->ids) {
        tok_strmap_free(m);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY,
                         "cannot allocate a vocabulary table of %u slots", size);
    }
    return MAAS_OK;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->hashes);
    free(m->ids);
    m->hashes = NULL;
    m->ids = NULL;
}

void tok_strmap_put(tok_strmap *m, int32_t id)
{
    const char *key = m->keys[id];
    uint32_t len = m->key_lens[id];
    uint32_t h = tok_hash(key, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        if (m->hashes[i] == 0) {
            m->hashes[i] = h;
            m->ids[i] = id;
            return;
        }
        int32_t other = m->ids[i];
        if (m->hashes[i] == h && m->key_lens[other] == len &&
            memcmp(m->keys[other], key, len) == 0) {
            m->ids[i] = id;
            return;
        }
    }
}

int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t len)
{
    uint32_t h = tok_hash(s, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        if (m->hashes[i] == 0)
            return -1;
        int32_t id = m->ids[i];
        if (m->hashes[i] == h && m->key_lens[id] == len &&
            memcmp(m->keys[id], s, len) == 0)
            return id;
    }
}

maas_status tok_pairmap_init(tok_pairmap *m, uint32_t capacity)
{
    uint32_t size = table_size(capacity);
    m->mask = size - 1;
    m->keys = calloc(size, sizeof *m->keys);
    m->ranks = calloc(size, sizeof *m->ranks);
    m->merged = calloc(size, sizeof *m->merged);
    if (!m->keys || !m->ranks || !m->merged) {
        tok_pairmap_free(m);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY,
                         "cannot allocate a merge table of %u slots", size);
    }
    return MAAS_OK;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->keys);
    free(m->ranks);
    free(m->merged);
    m->keys = NULL;
    m->ranks = NULL;
    m->merged = NULL;
}

static inline uint64_t pair_key(int32_t left, int32_t right)
{
    return (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
}

static inline uint32_t pair_slot(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key;
}

void tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank,
                     int32_t merged)
{
    uint64_t key = pair_key(left, right);
    for (uint32_t i = pair_slot(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->ranks[i] = rank;
            m->merged[i] = merged;
            return;
        }
        if (m->keys[i] == key) {
            m->ranks[i] = rank;
            m->merged[i] = merged;
            return;
        }
    }
}

bool tok_pairmap_get(const tok_pairmap *m, int32_t left, int32_t right,
                     int32_t *rank, int32_t *merged)
{
    uint64_t key = pair_key(left, right);
    for (uint32_t i = pair_slot(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == 0)
            return false;
        if (m->keys[i] == key) {
            *rank = m->ranks[i];
            *merged = m->merged[i];
            return true;
        }
    }
}
