// The one error shape of the metrics: `Expected <what> for <thing> but received <value>` with a stable code.

/** Every code a MetricError can carry. */
export const METRIC_ERROR_CODES = [
  'ERR_IMG2IMG_METRIC_SHAPE_MISMATCH',
  'ERR_IMG2IMG_METRIC_BAD_IMAGE',
  'ERR_IMG2IMG_METRIC_BAD_OPTION',
  'ERR_IMG2IMG_METRIC_NO_PAIRS',
  'ERR_IMG2IMG_METRIC_TOO_FEW_IMAGES',
  'ERR_IMG2IMG_METRIC_BAD_FEATURES',
  'ERR_IMG2IMG_VALIDATION_SPLIT_MISSING',
  'ERR_IMG2IMG_FID_WEIGHTS_MISSING',
  'ERR_IMG2IMG_FID_WEIGHTS_MISMATCH',
] as const;
/** A MetricError code. */
export type MetricErrorCode = typeof METRIC_ERROR_CODES[number];

/** A metric that cannot be computed on these inputs; `code` says why. */
export class MetricError extends Error {
  /** Every code a MetricError can carry. */
  static readonly CODES = METRIC_ERROR_CODES;
  readonly code: MetricErrorCode;
  constructor(code: MetricErrorCode, what: string, thing: string, value: string) {
    super(`Expected ${what} for ${thing} but received ${value}`);
    this.name = 'MetricError';
    this.code = code;
  }
}
