/* crc32c: CRC-32C (Castagnoli), the frame integrity check. Pure C11. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over more bytes: start with crc = 0. */
uint32_t avma_crc32c(uint32_t crc, const void *data, size_t len);
