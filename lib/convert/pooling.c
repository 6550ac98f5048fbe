/* sentence-transformers folders: modules.json lists the pipeline
 * (Transformer, Pooling, optional Normalize); the Pooling module's
 * config.json names the pooling mode.  Written as "pooling.mode",
 * "pooling.normalize" and, when sentence_bert_config.json sets it,
 * "pooling.max_seq_length". */
#include <stdio.h>
#include <string.h>

#include "convert/converter.h"
#include "internal.h"
#include "jsonfile.h"

#define ST_MODELS "sentence_transformers.models."

/* Reads the Pooling module's config.json and returns its single mode. */
static maas_status pooling_mode(maas_cv *cv, const char *module_path, const char **mode)
{
    char rel[512], path[4096];
    snprintf(rel, sizeof rel, "%s/config.json", module_path);
    cJSON *config;
    maas_status s = maas_json_read_file(maas_cv_path(cv, path, sizeof path, rel), &config);
    snprintf(cv->pooling_config_path, sizeof cv->pooling_config_path, "%s", path);
    if (s != MAAS_OK)
        return s;

    static const struct {
        const char *key;
        const char *mode;  /* NULL: a mode libmaas does not implement */
    } modes[] = {
        {"pooling_mode_cls_token", "cls"},
        {"pooling_mode_mean_tokens", "mean"},
        {"pooling_mode_max_tokens", "max"},
        {"pooling_mode_mean_sqrt_len_tokens", NULL},
        {"pooling_mode_weightedmean_tokens", NULL},
        {"pooling_mode_lasttoken", NULL},
    };
    int n_on = 0;
    *mode = NULL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0] && s == MAAS_OK; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, modes[i].key);
        if (!cJSON_IsTrue(item))
            continue;
        n_on++;
        if (!modes[i].mode)
            s = maas_fail(MAAS_ERR_UNSUPPORTED, "%s: \"%s\" is not supported (supported "
                          "pooling: cls, mean, max)", path, modes[i].key);
        *mode = modes[i].mode;
    }
    cJSON_Delete(config);
    if (s == MAAS_OK && n_on != 1)
        s = maas_fail(MAAS_ERR_UNSUPPORTED, "%s: %d pooling modes are enabled; exactly one of "
                      "cls, mean or max is supported", path, n_on);
    return s;
}

/* Writes sentence_bert_config.json's max_seq_length, the token limit
 * sentence-transformers cuts each text at, as "pooling.max_seq_length". */
static maas_status max_seq_length(maas_cv *cv)
{
    char path[4096];
    maas_cv_path(cv, path, sizeof path, "sentence_bert_config.json");
    if (!maas_path_exists(path))
        return MAAS_OK;
    cJSON *config;
    maas_status s = maas_json_read_file(path, &config);
    if (s != MAAS_OK)
        return s;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, "max_seq_length");
    if (v && !cJSON_IsNull(v)) {
        double n = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
        if (n < 2 || n > 4294967295.0 || n != (double)(uint32_t)n)
            s = maas_fail(MAAS_ERR_BAD_JSON, "%s: max_seq_length must be a whole number >= 2",
                          path);
        else
            s = maas_writer_set_u32(cv->w, "pooling.max_seq_length", (uint32_t)n);
    }
    cJSON_Delete(config);
    return s;
}

maas_status maas_cv_pooling(maas_cv *cv)
{
    char path[4096];
    maas_cv_path(cv, path, sizeof path, "modules.json");
    if (!maas_path_exists(path))
        return MAAS_OK;
    cJSON *modules;
    maas_status s = maas_json_read_file(path, &modules);
    if (s != MAAS_OK)
        return s;
    if (!cJSON_IsArray(modules)) {
        cJSON_Delete(modules);
        return maas_fail(MAAS_ERR_BAD_JSON, "%s is not a JSON array", path);
    }

    /* Walk the pipeline: the transformer at the folder root, one pooling
     * module, an optional normalisation; anything else is unsupported. */
    const char *mode = NULL;
    bool normalize = false;
    for (const cJSON *m = modules->child; m && s == MAAS_OK; m = m->next) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *where = cJSON_GetObjectItemCaseSensitive(m, "path");
        if (!cJSON_IsString(type) || !cJSON_IsString(where)) {
            s = maas_fail(MAAS_ERR_BAD_JSON, "%s: each module needs string \"type\" and "
                          "\"path\"", path);
            break;
        }
        const char *t = type->valuestring, *p = where->valuestring;
        if (p[0] == '/' || strstr(p, "..")) {
            s = maas_fail(MAAS_ERR_BAD_JSON, "%s: module path \"%s\" must stay inside the "
                          "model folder", path, p);
        } else if (strcmp(t, ST_MODELS "Transformer") == 0) {
            if (p[0] != '\0')
                s = maas_fail(MAAS_ERR_UNSUPPORTED, "%s: the Transformer module is in \"%s\"; "
                              "only a transformer at the folder root is supported", path, p);
        } else if (strcmp(t, ST_MODELS "Pooling") == 0) {
            if (mode)
                s = maas_fail(MAAS_ERR_UNSUPPORTED, "%s: more than one Pooling module", path);
            else
                s = pooling_mode(cv, p, &mode);
        } else if (strcmp(t, ST_MODELS "Normalize") == 0) {
            normalize = true;
        } else {
            s = maas_fail(MAAS_ERR_UNSUPPORTED, "%s: sentence-transformers module %s is not "
                          "supported (supported: Transformer, Pooling, Normalize)", path, t);
        }
    }
    cJSON_Delete(modules);
    if (s != MAAS_OK)
        return s;
    if (!mode)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has no Pooling module", path);

    s = maas_writer_set_str(cv->w, "pooling.mode", mode);
    if (s == MAAS_OK)
        s = maas_writer_set_bool(cv->w, "pooling.normalize", normalize);
    if (s == MAAS_OK)
        s = max_seq_length(cv);
    return s;
}
