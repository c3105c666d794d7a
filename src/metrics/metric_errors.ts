// The one error shape of the metrics: `Expected <what> for <thing> but received <value>` with a stable code.

export type MetricErrorCode =
  | 'METRIC_SHAPE_MISMATCH'
  | 'METRIC_BAD_IMAGE'
  | 'METRIC_BAD_OPTION'
  | 'METRIC_NO_PAIRS'
  | 'METRIC_TOO_FEW_IMAGES'
  | 'METRIC_BAD_FEATURES'
  | 'VALIDATION_SPLIT_MISSING'
  | 'FID_WEIGHTS_MISSING'
  | 'FID_WEIGHTS_MISMATCH';

export class MetricError extends Error {
  readonly code: MetricErrorCode;
  constructor(code: MetricErrorCode, what: string, thing: string, value: string) {
    super(`Expected ${what} for ${thing} but received ${value}`);
    this.name = 'MetricError';
    this.code = code;
  }
}
