/* Token sampling: repetition penalty, greedy, temperature, top-k, top-p,
 * min-p, and a seeded random generator owned by each sampler. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gpt2_internal.h"
#include "internal.h"

/* Tokens below this fraction of the best token's probability are left out
 * of the sort for top-p whenever the tokens above it already reach top_p
 * (the nucleus is then among them, so the result is unchanged). */
#define NUCLEUS_PREFILTER 1e-4f

struct maas_sampler {
    maas_sampling_params params;
    int vocab_size;
    uint64_t seed;          /* the seed in use (never MAAS_SEED_RANDOM) */
    uint64_t rng[4];        /* xoshiro256** state */
    float *values;          /* [V] adjusted logits, then probabilities */
    int32_t *candidates;    /* [V] ids still in the running */
    uint8_t *seen;          /* [V] history marks for the penalty; all 0
                               between calls */
};

/* ---- random numbers: splitmix64 seeds xoshiro256** (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Returns a uniform double in [0, 1) with 53 random bits. */
static double uniform01(uint64_t s[4])
{
    return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53;
}

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
    }
    /* Keep it below MAAS_SEED_RANDOM so printing and reusing it repeats. */
    return seed >> 1;
}

void maas_sampler_reseed(maas_sampler *sampler, uint64_t seed)
{
    if (seed == MAAS_SEED_RANDOM)
        seed = random_seed();
    sampler->seed = seed;
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        sampler->rng[i] = splitmix64(&sm);
}

/* ---- parameters ------------------------------------------------------------ */

void maas_sampling_params_default(maas_sampling_params *params)
{
    params->temperature = 1.0f;
    params->top_k = 0;
    params->top_p = 1.0f;
    params->min_p = 0.0f;
    params->repetition_penalty = 1.0f;
    params->seed = MAAS_SEED_RANDOM;
}

maas_status maas_sampling_params_validate(const maas_sampling_params *p)
{
    if (isnan(p->temperature) || isinf(p->temperature))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "temperature %g is invalid: expected a finite number "
                         "(<= 0 means greedy)", (double)p->temperature);
    if (p->top_k < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "top_k %d is invalid: expected 0 (off) or more",
                         p->top_k);
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "top_p %g is invalid: expected 0..1 (1 is off)",
                         (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "min_p %g is invalid: expected 0..1 (0 is off)",
                         (double)p->min_p);
    if (!(p->repetition_penalty > 0.0f) || isinf(p->repetition_penalty))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "repetition_penalty %g is invalid: expected a "
                         "finite number > 0 (1 is off)",
                         (double)p->repetition_penalty);
    return MAAS_OK;
}

/* ---- create / free ---------------------------------------------------------- */

maas_status maas_sampler_create(const maas_sampling_params *params,
                                int vocab_size, maas_sampler **out)
{
    if (!params || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_sampler_create: params and out must not be NULL");
    maas_status st = maas_sampling_params_validate(params);
    if (st != MAAS_OK)
        return st;
    if (vocab_size < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "vocab_size %d is invalid: expected at least 1",
                         vocab_size);

    maas_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for a sampler");
    s->values = malloc((size_t)vocab_size * sizeof *s->values);
    s->candidates = malloc((size_t)vocab_size * sizeof *s->candidates);
    s->seen = calloc((size_t)vocab_size, 1);
    if (!s->values || !s->candidates || !s->seen) {
        maas_sampler_free(s);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY,
                         "out of memory for a sampler over %d tokens",
                         vocab_size);
    }
    s->params = *params;
    s->vocab_size = vocab_size;
    maas_sampler_reseed(s, params->seed);
    *out = s;
    return MAAS_OK;
}

void maas_sampler_free(maas_sampler *sampler)
{
    if (!sampler)
        return;
    free(sampler->values);
    free(sampler->candidates);
    free(sampler->seen);
    free(sampler);
}

uint64_t maas_sampler_seed(const maas_sampler *sampler)
{
    return sampler->seed;
}

/* ---- the steps -------------------------------------------------------------- */

/* Divides positive logits by the penalty and multiplies negative ones by
 * it, once per distinct token of the history (as Hugging Face's
 * RepetitionPenaltyLogitsProcessor does). */
static maas_status apply_repetition_penalty(maas_sampler *s,
                                            const int32_t *history,
                                            int n_history)
{
    const float penalty = s->params.repetition_penalty;
    for (int i = 0; i < n_history; i++) {
        if (history[i] < 0 || history[i] >= s->vocab_size) {
            for (int j = 0; j < i; j++)
                s->seen[history[j]] = 0;
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "history token %d (index %d) is outside the "
                             "vocabulary 0..%d", history[i], i,
                             s->vocab_size - 1);
        }
        int32_t id = history[i];
        if (s->seen[id])
            continue;
        s->seen[id] = 1;
        float v = s->values[id];
        s->values[id] = v > 0.0f ? v / penalty : v * penalty;
    }
    for (int i = 0; i < n_history; i++)
        s->seen[history[i]] = 0;
    return MAAS_OK;
}

/* Returns the index of the largest values[i]; the lowest index on ties. */
static int32_t argmax(const float *values, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

/* The values that by_value_desc compares.  C11's qsort has no context
 * argument, so they go through a thread-local pointer set before each sort. */
static _Thread_local const float *sort_values;

/* Orders candidate ids by decreasing value, the lower id first on ties, so
 * the order never depends on the sort algorithm. */

static int by_value_desc(const void *a, const void *b)
{
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    float va = sort_values[ia], vb = sort_values[ib];
    if (va != vb)
        return va > vb ? -1 : 1;
    return ia < ib ? -1 : (ia > ib);
}

/* Sorts ids[n] by decreasing values[id]. */
static void sort_candidates(int32_t *ids, int n, const float *values)
{
    sort_values = values;
    qsort(ids, (size_t)n, sizeof *ids, by_value_desc);
}

/* Moves the k ids with the largest values to the front of ids[n], sorted
 * (a min-heap of size k over one pass: O(n log k)). */
static void select_top_k(int32_t *ids, int n, int k, const float *values)
{
    /* Heap order: the smallest kept value at the root; ties keep the
     * lower id, so the heap treats a higher id as "smaller". */
#define LESS(a, b) (values[a] < values[b] || (values[a] == values[b] && (a) > (b)))
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        int pos;
        if (i < k) {
            pos = i;
            while (pos > 0 && LESS(id, ids[(pos - 1) / 2])) {
                ids[pos] = ids[(pos - 1) / 2];
                pos = (pos - 1) / 2;
            }
            ids[pos] = id;
            continue;
        }
        if (!LESS(ids[0], id))
            continue;
        /* Replace the root and sift it down. */
        pos = 0;
        for (;;) {
            int child = 2 * pos + 1;
            if (child >= k)
                break;
            if (child + 1 < k && LESS(ids[child + 1], ids[child]))
                child++;
            if (!LESS(ids[child], id))
                break;
            ids[pos] = ids[child];
            pos = child;
        }
        ids[pos] = id;
    }
#undef LESS
    sort_candidates(ids, k, values);
}

maas_status maas_sampler_sample(maas_sampler *s, const float *logits,
                                const int32_t *history, int n_history,
                                int32_t *out)
{
    const maas_sampling_params *p = &s->params;
    const int V = s->vocab_size;

    /* 1. Reject NaN and infinity: never turn them into a token. */
    for (int i = 0; i < V; i++)
        if (!isfinite(logits[i]))
            return maas_fail(MAAS_ERR_NON_FINITE,
                             "logit %d of %d is %g; the model produced a "
                             "non-finite value (check the weights)", i, V,
                             (double)logits[i]);
    if (n_history < 0 || (n_history > 0 && !history))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "invalid history: %d tokens at %p", n_history,
                         (const void *)history);

    /* 2. Repetition penalty on a copy of the logits. */
    memcpy(s->values, logits, (size_t)V * sizeof(float));
    if (p->repetition_penalty != 1.0f && n_history > 0) {
        maas_status st = apply_repetition_penalty(s, history, n_history);
        if (st != MAAS_OK)
            return st;
    }

    /* 3. Greedy: temperature <= 0, top-k 1, or a nucleus of one token. */
    if (p->temperature <= 0.0f || p->top_k == 1 || p->top_p <= 0.0f) {
        *out = argmax(s->values, V);
        return MAAS_OK;
    }

    /* 4. Temperature, then probabilities relative to the best token:
     *    prob[i] = exp((l[i] - max) / T), unnormalised. */
    int32_t *cand = s->candidates;
    float *prob = s->values;
    float max_logit = s->values[argmax(s->values, V)];
    for (int i = 0; i < V; i++)
        prob[i] = expf((s->values[i] - max_logit) / p->temperature);

    /* 5. top-k. */
    int n = V;
    for (int i = 0; i < V; i++)
        cand[i] = i;
    bool sorted = false;
    if (p->top_k > 0 && p->top_k < V) {
        select_top_k(cand, V, p->top_k, prob);
        n = p->top_k;
        sorted = true;
    }

    /* 6. top-p: the smallest prefix of the sorted candidates whose mass
     *    reaches top_p of the candidates' total. */
    if (p->top_p < 1.0f) {
        double total = 0.0;
        for (int i = 0; i < n; i++)
            total += prob[cand[i]];
        if (!sorted) {
            /* Sort only the likely tokens when they already reach top_p. */
            int kept = 0;
            double kept_mass = 0.0;
            for (int i = 0; i < n; i++)
                if (prob[cand[i]] >= NUCLEUS_PREFILTER) {
                    kept_mass += prob[cand[i]];
                    cand[kept++] = cand[i];
                }
            if (kept_mass >= (double)p->top_p * total) {
                n = kept;
            } else {
                for (int i = 0; i < V; i++)
                    cand[i] = i;
            }
            sort_candidates(cand, n, prob);
            sorted = true;
        }
        double target = (double)p->top_p * total, mass = 0.0;
        int keep = 0;
        while (keep < n) {
            mass += prob[cand[keep++]];
            if (mass >= target)
                break;
        }
        n = keep;
    }

    /* 7. min-p: drop tokens below min_p times the best probability (1 here,
     *    as probabilities are relative to the best token). */
    if (p->min_p > 0.0f) {
        int kept = 0;
        for (int i = 0; i < n; i++)
            if (prob[cand[i]] >= p->min_p)
                cand[kept++] = cand[i];
        n = kept;
    }
    MAAS_ASSERT(n >= 1);

    /* 8. Draw from the renormalised candidates. */
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += prob[cand[i]];
    double u = uniform01(s->rng) * total, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += prob[cand[i]];
        if (u < acc) {
            *out = cand[i];
            return MAAS_OK;
        }
    }
    *out = cand[n - 1];
    return MAAS_OK;
}
