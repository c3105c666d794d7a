// torch-img2img: pix2pix and CycleGAN image-to-image translation for Node.js on libtorch. Public API.
export { Tensor, cat, noGrad, tidy, keep, disposeAll, l1Loss, mseLoss, bceWithLogitsLoss, autogradGrad } from './tensor';
export type { DType } from './tensor';
export { Network, defineG, defineD, networkFromDescription } from './networks';
export type { GeneratorOptions, DiscriminatorOptions, NetworkDescription, StateDictSource } from './networks';
export { Adam } from './optim';
export { manualSeed, getRngState, setRngState, setNumThreads, getNumThreads, cudaIsAvailable, cudaDeviceCount, resolveDevice, info } from './runtime';
export type { RuntimeInfo } from './runtime';
export { readSafetensors, writeSafetensors, loadCheckpoint, saveNetworkCheckpoint, networkFromCheckpoint, convertCheckpoint } from './checkpoint/network_checkpoint';
export { parseOptions } from './options/parse_options';
export type { Options } from './options/parse_options';
export { createModel, findModelClass, MODELS, BaseModel, Pix2PixModel, CycleGANModel, TestModel, ColorizationModel } from './models';
export { GANLoss, calGradientPenalty } from './models/gan_loss';
export { ImagePool } from './models/image_pool';
export { loadGenerator, Generator } from './inference/generator';
export type { TranslateInput, TranslateOptions, LoadGeneratorOptions, RawPixels, TileOptions } from './inference/generator';
export { runTest } from './inference/test_runner';
export { train, StopSignal, NonFiniteLossError } from './train/trainer';
export type { TrainCallbacks, TrainResult, IterationInfo, EpochInfo } from './train/trainer';
