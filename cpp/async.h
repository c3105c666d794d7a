// All work that leaves the JS thread lives here.
#pragma once
#include <memory>
#include <mutex>
#include <napi.h>

#include "networks.h"

namespace img2img {

// [async] Queues net->forward(x) on the libuv pool and returns a Promise of the output Tensor.
// The worker holds its own references to the network, its mutex and the input tensor, so JS may dispose
// either while the work runs. Grad mode is thread-local: noGrad uses InferenceMode inside the worker.
Napi::Promise QueueForward(Napi::Env env, Network net, std::shared_ptr<std::mutex> mutex, torch::Tensor x,
                           bool noGrad, c10::optional<torch::Device> outputDevice);

}  // namespace img2img
