/* POST /v1/qa: extractive question answering with a BERT span head.
 * Request:  {"question": str, "context": str, "top_k": 1..20 (default 1),
 *            "max_answer_len": tokens, 1..context (default 15)}
 * Response: {"object": "qa.result", "model": ..., "answers": [{"text",
 *            "start", "end", "score"}], "usage": {...}}; start and end are
 *            character offsets into the context, end exclusive. */
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

#define MAX_QA_TOP_K 20

enum MHD_Result maas_srv_handle_qa(maas_srv_request *req, const cJSON *body)
{
    maas_server *srv = req->srv;
    if (!(maas_srv_engine_tasks(srv->engine) & MAAS_SRV_TASK_QA))
        return maas_srv_send_error(req, 400, "invalid_request_error", "model",
                                   "unsupported_endpoint",
                                   "model '%s' (%s) cannot serve /v1/qa; it has no "
                                   "question-answering head (GET /v1/models lists its "
                                   "endpoints)",
                                   srv->model_id, maas_srv_engine_arch(srv->engine));

    /* Parameters.  The defaults are those of Hugging Face's
     * question-answering pipeline. */
    maas_srv_error err = {0};
    const char *model = NULL, *question = NULL, *context = NULL;
    long long top_k = 1, max_answer_len = 15;
    int n_ctx = maas_srv_engine_n_ctx(srv->engine);
    if (!maas_srv_get_string(body, "model", &model, &err) ||
        !maas_srv_get_string(body, "question", &question, &err) ||
        !maas_srv_get_string(body, "context", &context, &err) ||
        !maas_srv_get_int(body, "top_k", 1, MAX_QA_TOP_K, &top_k, &err) ||
        !maas_srv_get_int(body, "max_answer_len", 1, n_ctx, &max_answer_len, &err))
        return maas_srv_bad_request(req, err.param, "%s", err.message);
    if (!question || !*question)
        return maas_srv_bad_request(req, "question", "'question' must be a non-empty string");
    if (!context || !*context)
        return maas_srv_bad_request(req, "context", "'context' must be a non-empty string");

    /* Run the model. */
    enum MHD_Result result;
    int slot = maas_srv_slot_acquire(req, &result);
    if (slot < 0)
        return result;
    maas_srv_answer answers[MAX_QA_TOP_K];
    int n = 0, n_tokens = 0;
    maas_status st = maas_srv_qa(maas_srv_engine_slot(srv->engine, slot), question,
                                 strlen(question), context, strlen(context), (int)top_k,
                                 (int)max_answer_len, answers, &n, &n_tokens);
    maas_srv_slot_release(srv, slot);
    if (st != MAAS_OK)
        return maas_srv_send_status(req, st, "context");
    atomic_fetch_add(&req->tokens, n_tokens);

    /* Answer objects. */
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "qa.result");
    cJSON_AddStringToObject(root, "model", srv->model_id);
    cJSON *list = cJSON_AddArrayToObject(root, "answers");
    for (int i = 0; i < n; i++) {
        char *text = strndup(context + answers[i].byte_start,
                             (size_t)(answers[i].byte_end - answers[i].byte_start));
        cJSON *answer = cJSON_CreateObject();
        cJSON_AddStringToObject(answer, "text", text ? text : "");
        cJSON_AddNumberToObject(answer, "start", answers[i].start);
        cJSON_AddNumberToObject(answer, "end", answers[i].end);
        cJSON_AddNumberToObject(answer, "score", answers[i].score);
        cJSON_AddItemToArray(list, answer);
        free(text);
    }
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", n_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", n_tokens);
    return maas_srv_send_json(req, 200, root);
}
