/* Reading small JSON files (configs, tokenizer files, shard indexes) with
 * cJSON, checked conversion of JSON numbers to integers, and opening files
 * that must be regular (not FIFOs or devices) without blocking. */
#ifndef MAAS_JSONFILE_H
#define MAAS_JSONFILE_H

#include <cjson/cJSON.h>

#include "maas/common.h"

/* Largest JSON file read, in bytes. */
#define MAAS_JSON_MAX_FILE (256u << 20)

/* Opens `path` read-only after checking that it is a regular file, and
 * stores the descriptor in *fd (with its size in *size when not NULL).
 * The open uses O_NONBLOCK, cleared afterwards, so a FIFO is rejected
 * instead of blocking until a writer appears.  MAAS_ERR_NOT_FOUND when the
 * path does not exist, MAAS_ERR_IO when it cannot be opened or is a FIFO,
 * directory or device. */
maas_status maas_open_regular_file(const char *path, int *fd, uint64_t *size);

/* Reads a whole file into a malloc'ed, NUL-terminated buffer.
 * MAAS_ERR_NOT_FOUND when it does not exist, MAAS_ERR_IO when it cannot be
 * read or is larger than `max_bytes`. */
maas_status maas_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* Parses a JSON file.  MAAS_ERR_BAD_JSON names the file and the byte
 * offset of the error; errors of maas_read_file otherwise.  Free the
 * result with cJSON_Delete. */
maas_status maas_json_read_file(const char *path, cJSON **out);

/* Parses `len` bytes of JSON (not NUL-terminated) that must hold one value
 * followed only by whitespace.  `what` names the input in messages. */
maas_status maas_json_parse(const char *text, size_t len, const char *what, cJSON **out);

/* True when `item` is a number that is a whole number in [min, max]. */
bool maas_json_is_int(const cJSON *item, double min, double max);

/* Returns true when path exists (any file type). */
bool maas_path_exists(const char *path);

#endif /* MAAS_JSONFILE_H */
