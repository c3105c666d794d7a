#pragma once
#include <cstddef>

namespace img2img {

// libtorch's CPU allocator, replaced once when the addon loads (cpu_block_cache.cc says why). While at least one
// holder has retained it (a training model does), freed blocks of 1 MiB or more are kept for reuse
// instead of going back to the OS; with no holder it frees at once, as libtorch's own allocator does.
void InstallCpuBlockCache();
void RetainCpuBlockCache();
// Drops one hold; the last one frees every cached block.
void ReleaseCpuBlockCache();

struct CpuBlockCacheStats {
  size_t cachedBytes;   // freed, kept for reuse
  size_t liveBytes;     // handed out and not yet freed (large blocks only)
  size_t hits;          // large allocations served from the cache
  size_t misses;        // large allocations that went to the OS
  int holders;
};
CpuBlockCacheStats GetCpuBlockCacheStats();

}  // namespace img2img
