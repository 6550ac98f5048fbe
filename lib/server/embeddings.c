/* POST /v1/embeddings: one vector per input text, as floats or base64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

/* Writes a vector as a JSON array with 9 significant digits, which is
 * enough to read every float back exactly. */
static char *format_floats(const float *v, int n)
{
    size_t cap = (size_t)n * 18 + 3;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t len = 0;
    out[len++] = '[';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, i ? ",%.9g" : "%.9g", (double)v[i]);
    out[len++] = ']';
    out[len] = '\0';
    return out;
}

/* Runs every input on the slot and adds the "data" list to `root`. */
static enum MHD_Result embed_all(maas_srv_request *req, int slot, const maas_srv_texts *inputs,
                                 bool base64, cJSON *root, long *n_tokens)
{
    maas_server *srv = req->srv;
    maas_srv_slot *s = maas_srv_engine_slot(srv->engine, slot);
    int dim = maas_srv_engine_embed_dim(srv->engine);
    float *vector = malloc((size_t)dim * sizeof *vector);
    if (!vector)
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");

    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (int i = 0; i < inputs->n; i++) {
        if (atomic_load(&srv->cancel)) {
            free(vector);
            return maas_srv_send_error(req, 503, "server_error", NULL, "server_stopping",
                                       "the server stopped before the embeddings finished");
        }
        if (maas_srv_client_gone(req)) {
            free(vector);
            atomic_store(&req->client_gone, true);
            req->status = 499;
            return MHD_NO;
        }

        int used = 0;
        maas_status st = maas_srv_embed(s, inputs->text[i], inputs->len[i], vector, &used);
        if (st != MAAS_OK) {
            free(vector);
            return maas_srv_send_status(req, st, "input");
        }
        *n_tokens += used;
        atomic_fetch_add(&req->tokens, used);

        char *encoded = base64 ? maas_srv_base64(vector, (size_t)dim * sizeof *vector)
                               : format_floats(vector, dim);
        if (!encoded) {
            free(vector);
            return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        }
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "object", "embedding");
        cJSON_AddNumberToObject(item, "index", i);
        if (base64)
            cJSON_AddStringToObject(item, "embedding", encoded);
        else
            cJSON_AddRawToObject(item, "embedding", encoded);
        free(encoded);
        cJSON_AddItemToArray(data, item);
    }
    free(vector);
    return MHD_YES;
}

enum MHD_Result maas_srv_handle_embeddings(maas_srv_request *req, const cJSON *body)
{
    maas_server *srv = req->srv;
    if (!(maas_srv_engine_tasks(srv->engine) & MAAS_SRV_TASK_EMBED))
        return maas_srv_send_error(req, 400, "invalid_request_error", "model",
                                   "unsupported_endpoint",
                                   "model '%s' (%s) cannot serve /v1/embeddings; it is not "
                                   "an encoder model (GET /v1/models lists its endpoints)",
                                   srv->model_id, maas_srv_engine_arch(srv->engine));

    /* Parameters.  The base64 form is the little-endian float32 bytes, as
     * OpenAI sends them (and as its Python client requests by default). */
    maas_srv_error err = {0};
    maas_srv_texts inputs = {0};
    const char *model = NULL, *format = "float";
    long long dimensions = maas_srv_engine_embed_dim(srv->engine);
    int dim = (int)dimensions;
    if (!maas_srv_get_string(body, "model", &model, &err) ||
        !maas_srv_get_string(body, "encoding_format", &format, &err) ||
        !maas_srv_get_int(body, "dimensions", dim, dim, &dimensions, &err) ||
        !maas_srv_get_texts(body, "input", srv->opts.max_prompts, true, &inputs, &err))
        return maas_srv_bad_request(req, err.param, "%s", err.message);
    if (strcmp(format, "float") != 0 && strcmp(format, "base64") != 0) {
        maas_srv_texts_free(&inputs);
        return maas_srv_bad_request(req, "encoding_format",
                                    "'encoding_format' is '%s'; use 'float' or 'base64'",
                                    format);
    }

    /* Run the model. */
    enum MHD_Result result;
    int slot = maas_srv_slot_acquire(req, &result);
    if (slot < 0) {
        maas_srv_texts_free(&inputs);
        return result;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    long n_tokens = 0;
    result = embed_all(req, slot, &inputs, strcmp(format, "base64") == 0, root, &n_tokens);
    maas_srv_slot_release(srv, slot);
    maas_srv_texts_free(&inputs);
    if (req->handled || result == MHD_NO) {
        cJSON_Delete(root);
        return result;
    }

    cJSON_AddStringToObject(root, "model", srv->model_id);
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)n_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", (double)n_tokens);
    return maas_srv_send_json(req, 200, root);
}
