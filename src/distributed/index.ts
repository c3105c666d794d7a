// Data-parallel training across processes and machines on PyTorch's c10d (issue 9).
export { DEFAULT_DIST_TIMEOUT_MS, DistributedEnv, readDistributedEnv } from './env';
export { Backend, backendFor, DEFAULT_BUCKET_BYTES, missingBackend, ProcessGroup } from './process_group';
export { DistributedSampler } from './sampler';
export { checkNormAcrossProcesses, DistributedTraining, IterationAgreement, SetupFacts } from './data_parallel';
export { freePort, launchWorkers, LaunchOptions, workerEnv } from './launcher';
