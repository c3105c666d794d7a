// Data-parallel training across processes (issue 9) on PyTorch's own c10d: a TCPStore rendezvous (rank 0 hosts
// it) and one ProcessGroupGloo (CPU tensors) or ProcessGroupNCCL (CUDA tensors; only when this addon was compiled
// against a libtorch with NCCL). No transport of our own.
//
// Threading: every method is [sync] on the JS thread. A collective blocks that thread until every rank has joined
// it, or fails after the group's timeout (or at once when a peer's connection drops); Gloo moves the bytes on its
// own threads meanwhile. Calls must happen in the same order on every rank, as with torch.distributed.
// Ownership: the JS object owns the store and the group. dispose() (or the finalizer) releases them; after a
// failed collective the group is left allocated on purpose until the process exits, because tearing down a
// half-failed Gloo context can wait on peers that are gone.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>
#include <torch/torch.h>
#include <napi.h>

namespace img2img {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // [sync] new ProcessGroup({backend, rank, worldSize, masterAddr, masterPort, timeoutMs, glooInterface?,
  // glooHostname?}): connects to (rank 0: hosts) the TCPStore and builds the group; blocks until every rank has
  // arrived or timeoutMs passes.
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);
  ~ProcessGroupWrap() override;

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Backend(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  // [sync] allreduce(tensors, op): in place, one collective per tensor; op sum | max | min | product.
  Napi::Value Allreduce(const Napi::CallbackInfo& info);
  // [sync] allreduceGradients(params, bucketBytes): every parameter's .grad becomes the mean over ranks.
  // Gradients are flattened into buckets of about bucketBytes (per dtype and device), one all-reduce per bucket.
  // Returns the number of buckets.
  Napi::Value AllreduceGradients(const Napi::CallbackInfo& info);
  // [sync] broadcast(tensors, root, bucketBytes): copies root's values into every rank's tensors (parameters and
  // buffers, without autograd history), bucketed as above. Returns the number of buckets.
  Napi::Value Broadcast(const Napi::CallbackInfo& info);
  // [sync] Waits for every rank.
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  // [sync] Releases the group and the store (a no-op the second time).
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  // The store and the group (c10d types stay out of this header: only distributed.cc is built with the c10d defines).
  struct Group;
  Group& group(const Napi::Env& env);
  // Runs one collective; on failure marks the group broken and throws a message naming the operation and rank.
  template <typename F>
  void Collective(const Napi::Env& env, const std::string& what, F&& body);
  void Release();

  std::unique_ptr<Group> group_;
  std::string backend_;
  int rank_ = 0;
  int size_ = 1;
  std::chrono::milliseconds timeout_{60000};
  bool broken_ = false;  // a collective failed: never tear the group down (see the header comment)
};

// [sync] distributedBackends(): which c10d backends this build has, {gloo, nccl}.
Napi::Value DistributedBackends(const Napi::CallbackInfo& info);

}  // namespace img2img
