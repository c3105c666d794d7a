// The errors of the embedding API and the plain-object form that carries any of the package's errors across
// worker_threads, where class identity is lost. Every error class has a stable `code` (messages may be
// reworded; codes stay); src/index.ts exports them all.
import { ImageErrorCode, ImageFileError } from './data/image_errors';
import { CheckpointError } from './checkpoint/raw_tensor';
import { HelpRequested, OptionError } from './options/option_errors';

/** A call made after dispose(), or a generator whose worker stopped. */
export class GeneratorDisposedError extends Error {
  readonly code = 'ERR_IMG2IMG_DISPOSED';
  constructor(message = 'Generator was disposed: load it again with loadGenerator()') {
    super(message);
    this.name = 'GeneratorDisposedError';
  }
}

/** A call stopped by its AbortSignal; `cause` is the signal's reason. Named AbortError like fetch's. */
export class AbortError extends Error {
  readonly code = 'ERR_IMG2IMG_ABORTED';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** The error a signal's abort stands for. */
export function abortErrorOf(signal: AbortSignal, what: string): AbortError {
  return new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/** Plain-object form of an error sent from a worker thread. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  file?: string;
  option?: string;
  stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; file?: unknown; option?: unknown };
  return {
    name: e.name, message: e.message, stack: e.stack,
    code: typeof e.code === 'string' ? e.code : undefined,
    file: typeof e.file === 'string' ? e.file : undefined,
    option: typeof e.option === 'string' ? e.option : undefined,
  };
}

/** Rebuilds the class the code names (message kept verbatim), so `instanceof` and `code` work on this side. */
export function deserializeError(s: SerializedError): Error {
  let err: Error;
  switch (s.code) {
    case 'ERR_IMG2IMG_BAD_IMAGE':
    case 'ERR_IMG2IMG_IMAGE_TOO_LARGE':
    case 'ERR_IMG2IMG_DECODE_TIMEOUT': err = new ImageFileError(s.file ?? '', '', s.code as ImageErrorCode); break;
    case 'ERR_IMG2IMG_CHECKPOINT': err = new CheckpointError(s.file ?? '', ''); break;
    case 'ERR_IMG2IMG_OPTION': err = new OptionError(s.message, s.option); break;
    case 'ERR_IMG2IMG_HELP': err = new HelpRequested(s.message); break;
    case 'ERR_IMG2IMG_DISPOSED': err = new GeneratorDisposedError(); break;
    case 'ERR_IMG2IMG_ABORTED': err = new AbortError(); break;
    default:
      err = s.name === 'TypeError' ? new TypeError(s.message) : s.name === 'RangeError' ? new RangeError(s.message) : new Error(s.message);
      if (s.code) (err as Error & { code?: string }).code = s.code;
  }
  err.message = s.message;
  if (s.stack) err.stack = s.stack;
  return err;
}
