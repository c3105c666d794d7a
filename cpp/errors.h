// Turns C++ exceptions (c10::Error from libtorch, std::exception) into JS errors without C++ backtraces.
#pragma once
#include <string>
#include <utility>
#include <torch/torch.h>
#include <napi.h>

namespace img2img {

// libtorch messages sometimes carry an "Exception raised from …" tail or source locations: keep the first part.
std::string CleanTorchMessage(const std::string& raw);

// Raised by our own checks: message already user-facing.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// [sync] Runs `body` and rethrows any C++ exception as a JS Error (Napi::Error propagates as is).
template <typename F>
auto Guarded(const Napi::Env& env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, CleanTorchMessage(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, CleanTorchMessage(e.what()));
  }
}

// Same, for code that runs off the JS thread: returns the message instead of throwing (empty = ok).
template <typename F>
std::string CatchToMessage(F&& body) {
  try {
    body();
    return "";
  } catch (const c10::Error& e) {
    return CleanTorchMessage(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return CleanTorchMessage(e.what());
  } catch (...) {
    return "unknown native error";
  }
}

[[noreturn]] void ThrowTypeError(const Napi::Env& env, const std::string& message);

}  // namespace img2img
