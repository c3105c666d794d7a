// libtorch's CPU allocator with a cache for large blocks, held while a model trains.
//
// Why: libtorch's default CPU allocator is posix_memalign/free, and glibc hands every block over its mmap
// threshold (at most 32 MB) straight back to the OS on free. A training step frees and re-allocates the same
// large activations and weight gradients every step (pix2pix unet_256: three 33.5 MB gradients among them), so
// each step faulted in ~19.6 k fresh zeroed pages (80 MB) and its first touches ran into fresh memory (a 33.5 MB
// matmul: 13.2 ms into fresh pages, 3.7 ms into reused ones). Process-wide malloc tuning is not an addon's to make
// inside a host app, so the cache lives here and only holds memory while someone (a training model) has retained it.
//
// While held, large blocks are mapped by us (mmap, 2 MiB aligned, MADV_HUGEPAGE where the kernel offers transparent
// huge pages on request) so a fresh one faults in 2 MiB at a time; all other blocks are posix_memalign as before. Every block
// carries a 64-byte header (its kind and mapped size) so one plain deleter frees both, as raw_deleter() requires.
#include "cpu_block_cache.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>

namespace img2img {
namespace {

constexpr size_t kHeader = 64;                 // keeps the data at libtorch's 64-byte alignment
constexpr size_t kMinCachedBytes = 1 << 20;    // below this glibc's heap reuses blocks well on its own
constexpr size_t kHugePage = size_t(2) << 20;  // x86-64 transparent huge page
constexpr uint64_t kSmall = 0x736d616c6c626c6bULL;
constexpr uint64_t kLarge = 0x6c61726765626c6bULL;

struct Header {
  uint64_t kind;
  size_t mappedBytes;  // large blocks: the whole mapping, header included
};
static_assert(sizeof(Header) <= kHeader, "header must fit before the data");

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
size_t PageSize() {
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  return page;
}

// The most the cache keeps unused: an eighth of physical memory. A step's freed blocks are what the next step
// re-allocates, so in steady state the cache holds about one step's activations; past the cap blocks are unmapped.
size_t CacheCap() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  if (pages <= 0) return size_t(1) << 30;
  return size_t(pages) * PageSize() / 8;
}

void* MapLarge(size_t bytes) {
  // Over-map by one huge page and cut to a 2 MiB boundary: transparent huge pages then back every whole 2 MiB of the
  // block and 4 KiB pages only its tail, so nothing is rounded up beyond a page.
  void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw), aligned = RoundUp(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = start + kHugePage - aligned;  // what lies past aligned + bytes
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advice only: ignored where THP is off
#endif
  return reinterpret_cast<void*>(aligned);
}

class CpuBlockCache final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &Delete, c10::Device(c10::DeviceType::CPU)};
    void* base = nullptr;
    if (n <= std::numeric_limits<size_t>::max() / 2) {  // past this the header and rounding would wrap around
      const size_t bytes = n + kHeader;
      if (bytes >= kMinCachedBytes) base = const_cast<CpuBlockCache*>(this)->TakeLarge(bytes);
      if (base == nullptr) base = TakeSmall(bytes);
    }
    // libtorch's own allocator's message, so callers see the same error as before.
    TORCH_CHECK(base != nullptr, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &Delete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }

  void Retain() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++holders_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (holders_ > 0 && --holders_ == 0) TrimLocked();
  }
  void Trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    TrimLocked();
  }
  CpuBlockCacheStats Stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cachedBytes_, liveBytes_, hits_, misses_, holders_};
  }

 private:
  static void* TakeSmall(size_t bytes) {
    void* base = nullptr;
    if (posix_memalign(&base, kHeader, bytes) != 0) return nullptr;
    static_cast<Header*>(base)->kind = kSmall;
    return base;
  }

  // A cached or freshly mapped block while the cache is held; nullptr (take a small one) while it is not, since
  // unheld fresh mappings fault more than glibc's heap, which reuses blocks under its mmap threshold.
  void* TakeLarge(size_t bytes) {
    // Whole huge pages where that wastes at most an eighth (cycle_gan 128: +40 % RSS and slower when every block
    // was rounded to 2 MiB); otherwise whole pages, huge ones still backing the block's aligned 2 MiB spans.
    const size_t huge = RoundUp(bytes, kHugePage);
    const size_t mapped = huge - bytes <= bytes / 8 ? huge : RoundUp(bytes, PageSize());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (holders_ == 0) return nullptr;
      // Best fit among cached blocks no more than an eighth larger than asked (steps repeat their sizes exactly); of
      // equal sizes the last freed, whose pages may still be in cache.
      auto it = free_.lower_bound(mapped);
      if (it != free_.end() && it->first <= mapped + mapped / 8) {
        void* base = it->second;
        cachedBytes_ -= it->first;
        liveBytes_ += it->first;
        free_.erase(it);
        ++hits_;
        return base;
      }
      ++misses_;
    }
    void* base = MapLarge(mapped);
    if (base == nullptr) {
      Trim();  // give back what we hold and try once more; then posix_memalign has the last word
      base = MapLarge(mapped);
      if (base == nullptr) return nullptr;
    }
    auto* h = static_cast<Header*>(base);
    h->kind = kLarge;
    h->mappedBytes = mapped;
    std::lock_guard<std::mutex> lock(mutex_);
    liveBytes_ += mapped;
    return base;
  }

  void GiveBack(void* base) {
    const size_t mapped = static_cast<Header*>(base)->mappedBytes;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      liveBytes_ -= mapped;
      if (holders_ > 0 && cachedBytes_ + mapped <= cap_) {
        free_.emplace_hint(free_.lower_bound(mapped), mapped, base);  // first of its size: reused first, still warm
        cachedBytes_ += mapped;
        return;
      }
    }
    munmap(base, mapped);
  }

  void TrimLocked() {
    for (auto& [mapped, base] : free_) munmap(base, mapped);
    free_.clear();
    cachedBytes_ = 0;
  }

  static void Delete(void* data);

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // mapped size -> block base
  size_t cachedBytes_ = 0, liveBytes_ = 0, hits_ = 0, misses_ = 0;
  int holders_ = 0;
  const size_t cap_ = CacheCap();
};

// Never destroyed: tensors may outlive static destruction at process exit and still call Delete.
CpuBlockCache& Cache() {
  static auto* cache = new CpuBlockCache();
  return *cache;
}

void CpuBlockCache::Delete(void* data) {
  if (data == nullptr) return;
  void* base = static_cast<char*>(data) - kHeader;
  if (static_cast<Header*>(base)->kind == kLarge) {
    Cache().GiveBack(base);
  } else {
    free(base);
  }
}

}  // namespace

void InstallCpuBlockCache() {
  static std::once_flag once;
  std::call_once(once, [] { c10::SetCPUAllocator(&Cache()); });
}
void RetainCpuBlockCache() { Cache().Retain(); }
void ReleaseCpuBlockCache() { Cache().Release(); }
CpuBlockCacheStats GetCpuBlockCacheStats() { return Cache().Stats(); }

}  // namespace img2img
