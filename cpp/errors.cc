#include "errors.h"

namespace img2img {

std::string CleanTorchMessage(const std::string& raw) {
  std::string msg = raw;
  // libtorch appends "Exception raised from <fn> at <file>:<line> (most recent call first):" plus frames.
  const char* markers[] = {"Exception raised from", "\nFrame", " (most recent call first)"};
  for (const char* m : markers) {
    auto pos = msg.find(m);
    if (pos != std::string::npos) msg = msg.substr(0, pos);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg.empty() ? std::string("native error") : msg;
}

void ThrowTypeError(const Napi::Env& env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

}  // namespace img2img
