// The ONNX exporter's errors: the project's one message shape plus a stable `code` that callers can test.
/** Every code an OnnxExportError can carry. */
export const ONNX_ERROR_CODES = [
  'ERR_IMG2IMG_ONNX_TRAIN_MODE', 'ERR_IMG2IMG_ONNX_SIZE', 'ERR_IMG2IMG_ONNX_OPSET', 'ERR_IMG2IMG_ONNX_ARCH', 'ERR_IMG2IMG_ONNX_WEIGHTS',
  'ERR_IMG2IMG_ONNX_INPUT_SIZE', 'ERR_IMG2IMG_ONNX_MODEL',
] as const;
/** An OnnxExportError code. */
export type OnnxErrorCode = typeof ONNX_ERROR_CODES[number];

/** A refused ONNX export or a model that does not fit its contract; `code` says which. */
export class OnnxExportError extends Error {
  /** Every code an OnnxExportError can carry. */
  static readonly CODES = ONNX_ERROR_CODES;
  constructor(readonly code: OnnxErrorCode, message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** `Expected <what> for <thing> but received <value>` with `code`, and an optional reason in parentheses. */
export function onnxError(code: OnnxErrorCode, what: string, thing: string, received: string, why?: string): OnnxExportError {
  return new OnnxExportError(code, `Expected ${what} for ${thing} but received ${received}${why ? ` (${why})` : ''}`);
}
