// Metrics of translated images: paired L1/PSNR/SSIM, FID and KID (issue 19).
export { evaluate, evaluateResults, evaluateSets, folderSets, resultSets, fid, METRICS } from './evaluate';
export type { EvaluateOptions, EvaluateResult, ImageSets, MetricName } from './evaluate';
export { l1, psnr, ssim } from './image_metrics';
export type { SsimOptions } from './image_metrics';
export { FidInception, imagesToTensor } from './fid_inception';
export { FID_WEIGHTS_FILE, resolveFidWeightsPath } from './fid_weights_location';
export { featureStatistics, frechetDistance, kernelInceptionDistance, polynomialMmd, FID_EPS, KID_DEFAULTS } from './frechet';
export type { FeatureStatistics, KidOptions, KidResult } from './frechet';
export { MetricError } from './metric_errors';
export type { MetricErrorCode } from './metric_errors';
