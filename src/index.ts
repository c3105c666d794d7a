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
export type { TranslateInput, TranslateOptions, TranslateResult, LoadGeneratorOptions, RawPixels, TileOptions, OutputFormat } from './inference/generator';
export { GENERATOR_ARCHS, DISCRIMINATOR_ARCHS, NORMS, INIT_TYPES, GAN_MODES } from './architectures';
export type { GeneratorArch, DiscriminatorArch, Norm, InitType, GanMode, Device } from './architectures';
// Every error class, each with a stable `code` (README, "Errors").
export { AbortError, GeneratorDisposedError } from './errors';
export { ImageFileError } from './data/image_errors';
export { CheckpointError } from './checkpoint/raw_tensor';
export { OptionError, HelpRequested } from './options/option_errors';
export { AtomicWriteError } from './util/atomic_write';
export { DownloadError } from './tools/http_download';
export { ArchiveError } from './tools/archive';
export { runTest } from './inference/test_runner';
export { train, StopSignal, NonFiniteLossError } from './train/trainer';  // NonFiniteLossError: ERR_IMG2IMG_NON_FINITE
export type { TrainCallbacks, TrainResult, IterationInfo, EpochInfo, TrainExtra } from './train/trainer';
export { trainInWorker } from './train/train_in_worker';
export type { WorkerTrainCallbacks, TrainInWorkerOptions } from './train/train_in_worker';
