/* Builds a tokenizer from a .maas file's "tokenizer." keys:
 *   tokenizer.model      "gpt2-bpe" or "wordpiece"
 *   tokenizer.tokens     string array, element i is the token of id i
 *   tokenizer.merges     string array of "left right" by rank (BPE)
 *   tokenizer.do_lower_case, tokenizer.tokenize_chinese_chars,
 *   tokenizer.strip_accents (absent: same as do_lower_case)  (WordPiece)
 *   tokenizer.unk_id, cls_id, sep_id, pad_id, mask_id, eos_id  (optional)
 * The strings are read in place from the mapped file and copied once by
 * the same builder the vocabulary-file loaders use. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* Reads a string array key into parallel pointer and length arrays. */
static maas_status read_strings(const maas_file *f, const char *key, const char ***strings,
                                uint32_t **lens, uint32_t *count)
{
    maas_status st = maas_file_get_str_array(f, key, count);
    if (st != MAAS_OK)
        return maas_fail(st, "%s: cannot read the string array \"%s\": %s", maas_file_path(f),
                         key, st == MAAS_ERR_NOT_FOUND ? "the key is missing" : "wrong type");
    *strings = calloc(*count ? *count : 1, sizeof **strings);
    *lens = calloc(*count ? *count : 1, sizeof **lens);
    if (!*strings || !*lens)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %u strings for \"%s\"", *count, key);
    for (uint32_t i = 0; i < *count; i++) {
        st = maas_file_get_str_at(f, key, i, &(*strings)[i], &(*lens)[i]);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

/* Reads an optional bool; absent keeps *out. */
static maas_status read_bool(const maas_file *f, const char *key, bool *out)
{
    if (!maas_file_has(f, key))
        return MAAS_OK;
    return maas_file_get_bool(f, key, out);
}

maas_status maas_tokenizer_from_file(const maas_file *f, maas_tokenizer **out)
{
    if (!f || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "from_file needs a file and an output pointer");

    /* Step 1: the kind. */
    const char *model;
    maas_status st = maas_file_get_str(f, "tokenizer.model", &model);
    if (st != MAAS_OK)
        return maas_fail(st, "%s has no tokenizer (key \"tokenizer.model\"); convert the model "
                             "from a folder that has its vocabulary files",
                         maas_file_path(f));
    tok_spec spec;
    if (strcmp(model, "gpt2-bpe") == 0)
        tok_spec_defaults(&spec, MAAS_TOKENIZER_BPE);
    else if (strcmp(model, "wordpiece") == 0)
        tok_spec_defaults(&spec, MAAS_TOKENIZER_WORDPIECE);
    else
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tokenizer.model is \"%s\"; this build reads \"gpt2-bpe\" and \"wordpiece\"",
                         maas_file_path(f), model);

    /* Step 2: vocabulary and merges. */
    const char **tokens = NULL, **merges = NULL;
    uint32_t *token_lens = NULL, *merge_lens = NULL;
    st = read_strings(f, "tokenizer.tokens", &tokens, &token_lens, &spec.n_tokens);
    if (st == MAAS_OK && spec.kind == MAAS_TOKENIZER_BPE)
        st = read_strings(f, "tokenizer.merges", &merges, &merge_lens, &spec.n_merges);
    spec.tokens = tokens;
    spec.token_lens = token_lens;
    spec.merges = merges;
    spec.merge_lens = merge_lens;

    /* Step 3: WordPiece options and special ids. */
    if (st == MAAS_OK && spec.kind == MAAS_TOKENIZER_WORDPIECE) {
        spec.do_lower_case = true;
        st = read_bool(f, "tokenizer.do_lower_case", &spec.do_lower_case);
        spec.strip_accents = spec.do_lower_case;
        if (st == MAAS_OK)
            st = read_bool(f, "tokenizer.strip_accents", &spec.strip_accents);
        if (st == MAAS_OK)
            st = read_bool(f, "tokenizer.tokenize_chinese_chars", &spec.tokenize_chinese_chars);
    }
    static const char *const id_keys[MAAS_SPECIAL_COUNT] = {
        "tokenizer.unk_id", "tokenizer.cls_id", "tokenizer.sep_id",
        "tokenizer.pad_id", "tokenizer.mask_id", "tokenizer.eos_id",
    };
    for (int i = 0; st == MAAS_OK && i < MAAS_SPECIAL_COUNT; i++) {
        if (!maas_file_has(f, id_keys[i]))
            continue;
        st = maas_file_get_i32(f, id_keys[i], &spec.special[i]);
        if (st == MAAS_OK && (spec.special[i] < 0 || (uint32_t)spec.special[i] >= spec.n_tokens))
            st = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: %s is %d, outside the vocabulary of %u tokens",
                           maas_file_path(f), id_keys[i], spec.special[i], spec.n_tokens);
    }

    /* Step 4: the shared builder. */
    if (st == MAAS_OK)
        st = tok_build(&spec, out);
    free(tokens);
    free(token_lens);
    free(merges);
    free(merge_lens);
    return st;
}
