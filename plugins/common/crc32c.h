/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC-32C (Castagnoli), shared by the plugins that checksum what
 * they store.  Each plugin compiles crc32c.c into itself (a plugin links
 * libc alone), so the symbol stays hidden inside each shared object.
 */
#ifndef ACP_PLUGINS_CRC32C_H
#define ACP_PLUGINS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of len bytes at buf, continuing crc (0 to start): so
 * acp_crc32c(acp_crc32c(0, a, n), b, m) is the CRC of a then b.  Pure;
 * thread-safe (the tables are built once, on the first call). */
uint32_t acp_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* ACP_PLUGINS_CRC32C_H */
