// The one error shape of the metrics: `Expected <what> for <thing> but received <value>` with a stable code.

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
export type MetricErrorCode = typeof METRIC_ERROR_CODES[number];

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
