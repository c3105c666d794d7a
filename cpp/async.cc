#include "async.h"

#include "errors.h"
#include "tensor.h"

namespace img2img {

namespace {

class ForwardWorker : public Napi::AsyncWorker {
 public:
  ForwardWorker(Napi::Env env, Network net, std::shared_ptr<std::mutex> mutex, torch::Tensor x, bool noGrad,
                c10::optional<torch::Device> out)
      : Napi::AsyncWorker(env, "img2img.forward"), deferred_(Napi::Promise::Deferred::New(env)),
        net_(std::move(net)), mutex_(std::move(mutex)), x_(std::move(x)), noGrad_(noGrad), out_(out) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  // Runs on a libuv pool thread: touches only the members above.
  void Execute() override {
    std::string err = CatchToMessage([&] {
      std::lock_guard<std::mutex> lock(*mutex_);
      if (noGrad_) {
        c10::InferenceMode guard;
        result_ = net_->forward(x_);
        if (out_) result_ = result_.to(*out_);
      } else {
        result_ = net_->forward(x_);
        if (out_) result_ = result_.to(*out_);
      }
    });
    x_ = torch::Tensor();
    if (!err.empty()) SetError(err);
  }
  // JS thread: the result tensor's ownership moves to the new JS object.
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(TensorWrap::Wrap(Env(), std::move(result_)));
    net_ = Network(nullptr);
  }
  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(e.Value());
    net_ = Network(nullptr);
  }

 private:
  Napi::Promise::Deferred deferred_;
  Network net_;
  std::shared_ptr<std::mutex> mutex_;
  torch::Tensor x_;
  bool noGrad_;
  c10::optional<torch::Device> out_;
  torch::Tensor result_;
};

}  // namespace

Napi::Promise QueueForward(Napi::Env env, Network net, std::shared_ptr<std::mutex> mutex, torch::Tensor x,
                           bool noGrad, c10::optional<torch::Device> outputDevice) {
  auto* w = new ForwardWorker(env, std::move(net), std::move(mutex), std::move(x), noGrad, outputDevice);
  auto p = w->Promise();
  w->Queue();  // the worker deletes itself after OnOK/OnError
  return p;
}

}  // namespace img2img
