/**
 * Errors about one image file. The loader tells them apart from option errors so that `--skip_bad_images`
 * can skip a broken file (warning with its name) while a wrong option still stops the run.
 */
export class ImageFileError extends Error {
  readonly code = 'ERR_IMG2IMG_BAD_IMAGE';
  /** The file (or name) the problem is about, exactly as the caller passed it. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file} ${problem}`);
    this.name = 'ImageFileError';
    this.file = file;
  }
}

/** Plain-object form used to send an ImageFileError across worker_threads (class identity does not survive). */
export interface SerializedImageError {
  message: string;
  file?: string;
  stack?: string;
}

export function serializeError(err: unknown): SerializedImageError {
  if (err instanceof ImageFileError) return { message: err.message, file: err.file, stack: err.stack };
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  return { message: String(err) };
}

export function deserializeError(s: SerializedImageError): Error {
  const err = s.file !== undefined ? imageErrorWithMessage(s.file, s.message) : new Error(s.message);
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Rebuilds an ImageFileError whose message is already complete. */
function imageErrorWithMessage(file: string, message: string): ImageFileError {
  const err = new ImageFileError(file, '');
  err.message = message;
  return err;
}
