/* SPDX-License-Identifier: MIT */
/*
 * acp_storage_version.h - compile-time version of acp-storage.
 * CMake reads the numbers from here: this file is the one place they live.
 */
#ifndef ACP_STORAGE_VERSION_H
#define ACP_STORAGE_VERSION_H

#define ACP_STORAGE_VERSION_MAJOR 0
#define ACP_STORAGE_VERSION_MINOR 1
#define ACP_STORAGE_VERSION_PATCH 0
#define ACP_STORAGE_VERSION_STRING "0.1.0"

#endif /* ACP_STORAGE_VERSION_H */
