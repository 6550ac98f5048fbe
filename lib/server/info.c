/* GET /v1/models, GET /v1/models/{id} and GET /health. */
#include <string.h>

#include "server/server_internal.h"

static cJSON *model_object(maas_server *srv)
{
    unsigned tasks = maas_srv_engine_tasks(srv->engine);
    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "id", srv->model_id);
    cJSON_AddStringToObject(model, "object", "model");
    cJSON_AddNumberToObject(model, "created", (double)srv->created);
    cJSON_AddStringToObject(model, "owned_by", "libmaas");

    /* Extensions: what the model is and which endpoints it serves. */
    cJSON_AddStringToObject(model, "architecture", maas_srv_engine_arch(srv->engine));
    cJSON_AddNumberToObject(model, "context_length", maas_srv_engine_n_ctx(srv->engine));
    cJSON *endpoints = cJSON_AddArrayToObject(model, "endpoints");
    if (tasks & MAAS_SRV_TASK_GENERATE) {
        cJSON_AddItemToArray(endpoints, cJSON_CreateString("/v1/completions"));
        cJSON_AddItemToArray(endpoints, cJSON_CreateString("/v1/chat/completions"));
    }
    if (tasks & MAAS_SRV_TASK_EMBED)
        cJSON_AddItemToArray(endpoints, cJSON_CreateString("/v1/embeddings"));
    if (tasks & MAAS_SRV_TASK_QA)
        cJSON_AddItemToArray(endpoints, cJSON_CreateString("/v1/qa"));
    return model;
}

enum MHD_Result maas_srv_handle_models(maas_srv_request *req)
{
    maas_server *srv = req->srv;

    /* GET /v1/models/{id}: the one model, or 404. */
    if (strcmp(req->path, "/v1/models") != 0) {
        const char *id = req->path + strlen("/v1/models/");
        if (strcmp(id, srv->model_id) != 0)
            return maas_srv_send_error(req, 404, "invalid_request_error", "model",
                                       "model_not_found",
                                       "model '%s' does not exist; this server serves '%s'",
                                       id, srv->model_id);
        return maas_srv_send_json(req, 200, model_object(srv));
    }

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    cJSON_AddItemToArray(data, model_object(srv));
    return maas_srv_send_json(req, 200, root);
}

enum MHD_Result maas_srv_handle_health(maas_srv_request *req)
{
    maas_server *srv = req->srv;
    int busy, waiting;
    maas_srv_pool_counts(&srv->pool, &busy, &waiting);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON_AddStringToObject(root, "model", srv->model_id);
    cJSON_AddNumberToObject(root, "slots_total", srv->opts.n_parallel);
    cJSON_AddNumberToObject(root, "slots_busy", busy);
    cJSON_AddNumberToObject(root, "queued", waiting);
    cJSON_AddNumberToObject(root, "queue_limit", srv->opts.max_queue);
    return maas_srv_send_json(req, 200, root);
}
