/* SPDX-License-Identifier: MIT */
/*
 * clifuture.c - a plugin built for a plugin ABI major this library does not
 * host, so that `acp-storage backends` and `check` must report it refused.
 * The descriptor is written out by hand because ACP_PLUGIN_DEFINE always
 * fills in the current ABI.
 */
#include "acp_storage_plugin.h"

ACP_PLUGIN_EXPORT const acp_plugin_descriptor *acp_storage_clifuture_plugin(void);

const acp_plugin_descriptor *acp_storage_clifuture_plugin(void)
{
    static const acp_plugin_descriptor desc = {
        .magic = ACP_PLUGIN_MAGIC,
        .abi_major = ACP_PLUGIN_ABI_MAJOR + 1,
        .abi_minor = 0,
        .size = (uint32_t)sizeof(acp_plugin_descriptor),
        .pointer_size = (uint32_t)sizeof(void *),
        .name = "clifuture",
        .version = "9.0.0",
        .description = "a plugin from the future",
    };
    return &desc;
}
