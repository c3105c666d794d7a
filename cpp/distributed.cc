// c10d process groups for data-parallel training (see distributed.h for the threading and ownership contract).
// Built with IMG2IMG_WITH_GLOO when Gloo's headers were found (CMakeLists.txt), IMG2IMG_WITH_NCCL when a CUDA
// libtorch and nccl.h were (libtorch's own USE_C10D_* defines say how libtorch was built, not what is installed).
#include "distributed.h"

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef IMG2IMG_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef IMG2IMG_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "errors.h"
#include "tensor.h"

namespace img2img {

namespace {

// libtorch 2.x split the backends (Gloo, NCCL) out of ProcessGroup into c10d::Backend with the same collectives.
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif

const char* const kNoGloo =
    "this build of the addon has no c10d Gloo backend (Gloo's headers were not found when it was compiled): "
    "install them (Debian/Ubuntu: apt-get install libgloo-dev) and rebuild (npm run build)";
const char* const kNoNccl =
    "this build of the addon has no c10d NCCL backend (it needs a CUDA libtorch built with NCCL, and nccl.h when "
    "compiling): train on --device cpu (Gloo), or rebuild against a CUDA libtorch (LIBTORCH=… npm run build)";

// Consecutive tensors of one dtype and device, up to bucketBytes each (a larger tensor gets a bucket of its own),
// as DDP's reducer groups gradients.
std::vector<std::vector<size_t>> MakeBuckets(const std::vector<torch::Tensor>& ts, int64_t bucketBytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const int64_t n = ts[i].numel() * static_cast<int64_t>(ts[i].element_size());
    const bool sameKind = !buckets.empty() && ts[buckets.back().front()].scalar_type() == ts[i].scalar_type() &&
                          ts[buckets.back().front()].device() == ts[i].device();
    if (!sameKind || bytes + n > bucketBytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += n;
  }
  return buckets;
}

// One flat contiguous copy of the bucket's tensors.
torch::Tensor Flatten(const std::vector<torch::Tensor>& ts, const std::vector<size_t>& bucket) {
  std::vector<torch::Tensor> parts;
  parts.reserve(bucket.size());
  for (size_t i : bucket) parts.push_back(ts[i].reshape({-1}));
  return parts.size() == 1 ? parts[0].clone() : torch::cat(parts);
}

// Copies the flat bucket back into its tensors (any strides, e.g. channels_last).
void Unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& ts, const std::vector<size_t>& bucket) {
  int64_t offset = 0;
  for (size_t i : bucket) {
    const int64_t n = ts[i].numel();
    ts[i].copy_(flat.narrow(0, offset, n).view(ts[i].sizes()));
    offset += n;
  }
}

std::vector<torch::Tensor> TensorsFrom(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "Expected an array of Tensors for " + what);
  auto arr = v.As<Napi::Array>();
  std::vector<torch::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(TensorWrap::From(arr.Get(i), what));
  return out;
}

int64_t BucketBytesFrom(const Napi::Value& v) {
  if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 1)
    throw Napi::TypeError::New(v.Env(), "Expected a number of bytes >= 1 for bucketBytes");
  return v.As<Napi::Number>().Int64Value();
}

void Wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

}  // namespace

struct ProcessGroupWrap::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> pg;
};

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeProcessGroup", {
      InstanceAccessor<&ProcessGroupWrap::Rank>("rank"),
      InstanceAccessor<&ProcessGroupWrap::Size>("size"),
      InstanceAccessor<&ProcessGroupWrap::Backend>("backend"),
      InstanceAccessor<&ProcessGroupWrap::IsDisposed>("isDisposed"),
      InstanceMethod<&ProcessGroupWrap::Allreduce>("allreduce"),
      InstanceMethod<&ProcessGroupWrap::AllreduceGradients>("allreduceGradients"),
      InstanceMethod<&ProcessGroupWrap::Broadcast>("broadcast"),
      InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
      InstanceMethod<&ProcessGroupWrap::Dispose>("dispose"),
  });
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    throw Napi::TypeError::New(env, "Expected {backend, rank, worldSize, masterAddr, masterPort, timeoutMs} for ProcessGroup");
  auto o = info[0].As<Napi::Object>();
  auto str = [&](const char* k) { Napi::Value v = o.Get(k); return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); };
  auto num = [&](const char* k) {
    Napi::Value v = o.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("Expected a number for ") + k + " of ProcessGroup");
    return v.As<Napi::Number>().Int64Value();
  };
  backend_ = str("backend");
  rank_ = static_cast<int>(num("rank"));
  size_ = static_cast<int>(num("worldSize"));
  const int64_t port = num("masterPort");
  timeout_ = std::chrono::milliseconds(num("timeoutMs"));
  const std::string masterAddr = str("masterAddr"), iface = str("glooInterface"), hostname = str("glooHostname");
  if (backend_ != "gloo" && backend_ != "nccl") throw Napi::TypeError::New(env, "Expected 'gloo' or 'nccl' for backend but received '" + backend_ + "'");
  if (size_ < 1 || rank_ < 0 || rank_ >= size_)
    throw Napi::TypeError::New(env, "Expected 0 <= rank < worldSize but received rank " + std::to_string(rank_) + ", worldSize " + std::to_string(size_));
  if (port < 1 || port > 65535) throw Napi::TypeError::New(env, "Expected a port in 1..65535 for masterPort but received " + std::to_string(port));
  if (timeout_.count() < 1) throw Napi::TypeError::New(env, "Expected a positive timeoutMs");
  if (masterAddr.empty()) throw Napi::TypeError::New(env, "Expected a host name or address for masterAddr");

  auto g = std::make_unique<Group>();
  const std::string err = CatchToMessage([&] {
    if (backend_ == "gloo") {
#ifndef IMG2IMG_WITH_GLOO
      throw UserError(kNoGloo);
#endif
    } else {
#ifndef IMG2IMG_WITH_NCCL
      throw UserError(kNoNccl);
#endif
    }
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = rank_ == 0;  // rank 0 hosts the store, as torchrun's static rendezvous does
    so.numWorkers = static_cast<std::size_t>(size_);
    so.waitWorkers = true;
    so.timeout = timeout_;
    g->store = c10::make_intrusive<c10d::TCPStore>(masterAddr, so);
#ifdef IMG2IMG_WITH_GLOO
    if (backend_ == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout_);
      if (!iface.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      else if (!hostname.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
      else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank_, size_, opts);
    }
#endif
#ifdef IMG2IMG_WITH_NCCL
    if (backend_ == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout_;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, rank_, size_, opts);
    }
#endif
  });
  if (!err.empty()) {
    throw Napi::Error::New(env, "joining the " + backend_ + " process group as rank " + std::to_string(rank_) + " of " +
                                    std::to_string(size_) + " at " + masterAddr + ":" + std::to_string(port) + " failed: " + err);
  }
  group_ = std::move(g);
}

ProcessGroupWrap::~ProcessGroupWrap() { Release(); }

void ProcessGroupWrap::Release() {
  if (broken_) {
    (void)group_.release();  // deliberately kept: see distributed.h
    return;
  }
  if (group_) {
    group_->pg.reset();
    group_->store.reset();
    group_.reset();
  }
}

ProcessGroupWrap::Group& ProcessGroupWrap::group(const Napi::Env& env) {
  if (broken_) throw Napi::Error::New(env, "the process group failed earlier and cannot be used again");
  if (!group_) throw Napi::Error::New(env, "the process group was disposed");
  return *group_;
}

template <typename F>
void ProcessGroupWrap::Collective(const Napi::Env& env, const std::string& what, F&& body) {
  Group& g = group(env);
  const std::string err = CatchToMessage([&] { body(*g.pg); });
  if (err.empty()) return;
  broken_ = true;
  throw Napi::Error::New(env, what + " failed on rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                                  " (another rank exited, was killed or did not answer within " +
                                  std::to_string(timeout_.count()) + " ms; its own output says why): " + err);
}

Napi::Value ProcessGroupWrap::Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rank_); }
Napi::Value ProcessGroupWrap::Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), size_); }
Napi::Value ProcessGroupWrap::Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), backend_); }
Napi::Value ProcessGroupWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !group_ || broken_); }

Napi::Value ProcessGroupWrap::Allreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<torch::Tensor> ts = TensorsFrom(info[0], "allreduce");
  const std::string op = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "sum";
  c10d::ReduceOp::RedOpType type;
  if (op == "sum") type = c10d::ReduceOp::SUM;
  else if (op == "max") type = c10d::ReduceOp::MAX;
  else if (op == "min") type = c10d::ReduceOp::MIN;
  else if (op == "product") type = c10d::ReduceOp::PRODUCT;
  else throw Napi::TypeError::New(env, "Expected sum, max, min or product for op but received '" + op + "'");
  Collective(env, "all-reduce (" + op + ")", [&](GroupBase& pg) {
    torch::NoGradGuard noGrad;
    for (auto& t : ts) {
      std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10d::ReduceOp(type);
      Wait(pg.allreduce(one, opts));
      if (!one[0].is_same(t)) t.copy_(one[0]);
    }
  });
  return env.Undefined();
}

Napi::Value ProcessGroupWrap::AllreduceGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<torch::Tensor> params = TensorsFrom(info[0], "allreduceGradients");
  const int64_t bucketBytes = BucketBytesFrom(info[1]);
  // A parameter without a gradient contributes zeros and keeps no gradient (every rank runs the same graph, so
  // the same parameters lack one everywhere).
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (auto& p : params) grads.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
  const auto buckets = MakeBuckets(grads, bucketBytes);
  Collective(env, "all-reduce of gradients", [&](GroupBase& pg) {
    torch::NoGradGuard noGrad;
    for (const auto& bucket : buckets) {
      std::vector<torch::Tensor> flat{Flatten(grads, bucket)};
      Wait(pg.allreduce(flat, c10d::AllreduceOptions()));
      flat[0].div_(size_);
      Unflatten(flat[0], grads, bucket);
    }
  });
  return Napi::Number::New(env, static_cast<double>(buckets.size()));
}

Napi::Value ProcessGroupWrap::Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<torch::Tensor> ts = TensorsFrom(info[0], "broadcast");
  if (info.Length() < 3 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "Expected (tensors, root, bucketBytes) for broadcast");
  const int64_t root = info[1].As<Napi::Number>().Int64Value();
  if (root < 0 || root >= size_) throw Napi::TypeError::New(env, "Expected a root rank in 0.." + std::to_string(size_ - 1) + " but received " + std::to_string(root));
  const int64_t bucketBytes = BucketBytesFrom(info[2]);
  const auto buckets = MakeBuckets(ts, bucketBytes);
  Collective(env, "broadcast from rank " + std::to_string(root), [&](GroupBase& pg) {
    torch::NoGradGuard noGrad;
    for (const auto& bucket : buckets) {
      std::vector<torch::Tensor> flat{Flatten(ts, bucket)};
      c10d::BroadcastOptions opts;
      opts.rootRank = root;
      Wait(pg.broadcast(flat, opts));
      if (rank_ != root) Unflatten(flat[0], ts, bucket);
    }
  });
  return Napi::Number::New(env, static_cast<double>(buckets.size()));
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  Collective(info.Env(), "barrier", [&](GroupBase& pg) { Wait(pg.barrier(c10d::BarrierOptions())); });
  return info.Env().Undefined();
}

Napi::Value ProcessGroupWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#ifdef IMG2IMG_WITH_GLOO
  out.Set("gloo", true);
#else
  out.Set("gloo", false);
#endif
#ifdef IMG2IMG_WITH_NCCL
  out.Set("nccl", true);
#else
  out.Set("nccl", false);
#endif
  return out;
}

}  // namespace img2img
