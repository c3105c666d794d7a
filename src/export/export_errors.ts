// The ONNX exporter's errors: the project's one message shape plus a stable `code` that callers can test.
export type OnnxErrorCode =
  | 'ERR_ONNX_TRAIN_MODE' | 'ERR_ONNX_SIZE' | 'ERR_ONNX_OPSET' | 'ERR_ONNX_ARCH' | 'ERR_ONNX_WEIGHTS'
  | 'ERR_ONNX_INPUT_SIZE' | 'ERR_ONNX_MODEL';

export class OnnxExportError extends Error {
  constructor(readonly code: OnnxErrorCode, message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** `Expected <what> for <thing> but received <value>` with `code`, and an optional reason in parentheses. */
export function onnxError(code: OnnxErrorCode, what: string, thing: string, received: string, why?: string): OnnxExportError {
  return new OnnxExportError(code, `Expected ${what} for ${thing} but received ${received}${why ? ` (${why})` : ''}`);
}
