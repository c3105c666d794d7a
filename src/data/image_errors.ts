/** Stable codes callers can branch on (messages may be reworded; codes are not). */
export type ImageErrorCode =
  /** Not a usable image: corrupt, truncated, unsupported or hostile structure. */
  | 'ERR_IMG2IMG_BAD_IMAGE'
  /** A well-formed image over --max_image_pixels (or whose decoding would need more than its size allows). */
  | 'ERR_IMG2IMG_IMAGE_TOO_LARGE'
  /** The decoder ran past its deadline and was stopped. */
  | 'ERR_IMG2IMG_DECODE_TIMEOUT';

/**
 * Errors about one image file. The loader tells them apart from option errors so that `--skip_bad_images`
 * can skip a broken file (warning with its name) while a wrong option still stops the run.
 */
export class ImageFileError extends Error {
  /** The file (or name) the problem is about, exactly as the caller passed it. */
  readonly file: string;
  readonly code: ImageErrorCode;

  constructor(file: string, problem: string, code: ImageErrorCode = 'ERR_IMG2IMG_BAD_IMAGE') {
    super(`${file} ${problem}`);
    this.name = 'ImageFileError';
    this.file = file;
    this.code = code;
  }
}

/** Plain-object form used to send an ImageFileError across worker_threads (class identity does not survive). */
export interface SerializedImageError {
  message: string;
  file?: string;
  code?: ImageErrorCode;
  stack?: string;
}

export function serializeError(err: unknown): SerializedImageError {
  if (err instanceof ImageFileError) return { message: err.message, file: err.file, code: err.code, stack: err.stack };
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  return { message: String(err) };
}

export function deserializeError(s: SerializedImageError): Error {
  const err = s.file !== undefined ? imageErrorWithMessage(s.file, s.message, s.code) : new Error(s.message);
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Rebuilds an ImageFileError whose message is already complete. */
export function imageErrorWithMessage(file: string, message: string, code?: ImageErrorCode): ImageFileError {
  const err = new ImageFileError(file, '', code);
  err.message = message;
  return err;
}
