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
 * can skip a broken file (warning with its name) while a wrong option still stops the run. Worker threads send it
 * with src/errors.ts's serializeError/deserializeError, like every error of the package.
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
