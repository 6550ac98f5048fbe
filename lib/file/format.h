/* The .maas byte layout shared by the reader and the writer; docs/FORMAT.md
 * describes it in prose.  Every integer is little-endian.
 *
 *   header (64 bytes):
 *     0  char[4] magic "MAAS"
 *     4  u32     format version (MAAS_FILE_VERSION)
 *     8  u32     key/value count
 *    12  u32     tensor count
 *    16  u64     data offset: where the data section starts, a multiple of 64
 *    24  u64     data size: bytes in the data section; the file ends there
 *    32  u8[32]  reserved, zero
 *   metadata (from byte 64 up to the data offset):
 *     string  architecture name
 *     key/values: string key, u32 value type, value
 *     tensor directory: string name, u32 dtype, u32 n_dims, u64 shape[n_dims],
 *                       u64 offset (from the data offset, a multiple of 64),
 *                       u64 size in bytes
 *     zero padding up to the data offset
 *   data: the tensors' bytes, row-major, each at its offset.
 *
 * A string is a u32 byte length n, n bytes that are not NUL, then one NUL
 * byte, so the reader can hand out pointers into the mapping as C strings.
 */
#ifndef MAAS_FILE_FORMAT_H
#define MAAS_FILE_FORMAT_H

#include <stdint.h>
#include <string.h>

#define MAAS_FILE_MAGIC "MAAS"
#define MAAS_FILE_VERSION 1u
#define MAAS_FILE_HEADER_SIZE 64u
#define MAAS_FILE_ALIGN 64u

/* Header field offsets. */
#define MAAS_FILE_OFF_VERSION 4u
#define MAAS_FILE_OFF_KV_COUNT 8u
#define MAAS_FILE_OFF_TENSOR_COUNT 12u
#define MAAS_FILE_OFF_DATA_OFFSET 16u
#define MAAS_FILE_OFF_DATA_SIZE 24u
#define MAAS_FILE_OFF_RESERVED 32u

/* Smallest encodings, used to reject absurd counts before allocating:
 * an empty string is 5 bytes; a key/value is at least a key, a type and a
 * 1-byte value; a tensor entry at least a name, dtype, n_dims, one
 * dimension, offset and size. */
#define MAAS_FILE_MIN_STRING 5u
#define MAAS_FILE_MIN_KV (MAAS_FILE_MIN_STRING + 4u + 1u)
#define MAAS_FILE_MIN_TENSOR (MAAS_FILE_MIN_STRING + 4u + 4u + 8u + 8u + 8u)

/* Unaligned little-endian loads.  libmaas builds only for little-endian
 * hosts (maas_file_open checks), so a memcpy is the conversion. */
static inline uint32_t maas_load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t maas_load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int maas_host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

#endif /* MAAS_FILE_FORMAT_H */
