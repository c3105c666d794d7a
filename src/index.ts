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
export { NonFiniteLossError } from './train/trainer';  // ERR_IMG2IMG_NON_FINITE
export type { TrainResult, IterationInfo, EpochInfo } from './train/trainer';
// train() runs the training loop in a worker thread (README, "Training from code").
export { train, trainInWorker } from './train/train_in_worker';
export type { TrainCallbacks, TrainExtra, TrainVisuals } from './train/train_in_worker';
export type { TrainStartInfo } from './train/train_worker';
export { exportOnnx, exportOnnxBytes, parseSize, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET } from './export/onnx_export';
export type { ExportOnnxOptions, ExportOnnxResult } from './export/onnx_export';
export { readOnnxContract, checkOnnxInputSize } from './export/onnx_contract';
export type { OnnxContract } from './export/onnx_contract';
export { OnnxExportError } from './export/export_errors';
export type { OnnxErrorCode } from './export/export_errors';
export type { ValidationInfo } from './train/validation';
export { evaluate, evaluateResults, l1, psnr, ssim, FidInception, featureStatistics, frechetDistance, kernelInceptionDistance, MetricError } from './metrics';
export type { EvaluateOptions, EvaluateResult, MetricName, SsimOptions, KidOptions, KidResult, FeatureStatistics } from './metrics';
