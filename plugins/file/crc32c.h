/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC-32C (Castagnoli) of the file backend's records, shared
 * with the benchmark (bench/baseline_file.c).
 */
#ifndef ACP_FILE_CRC32C_H
#define ACP_FILE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue the CRC-32C crc (0 to start) over len bytes of buf: the SSE 4.2
 * instruction where the processor has it, slicing by 8 elsewhere.
 * Thread-safe (tables are set up once). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* ACP_FILE_CRC32C_H */
