// Precompiled header: libtorch and node-addon-api are large; every translation unit shares one parse of them.
#pragma once
#include <torch/torch.h>
#include <napi.h>
