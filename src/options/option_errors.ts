/**
 * The one shape every user-caused option error takes:
 * `Expected <what> for <option> but received <value>`.
 */

/** Thrown for a bad command line or option value; `option` names the flag at fault. */
export class OptionError extends Error {
  readonly code = 'ERR_IMG2IMG_OPTION';
  constructor(message: string, readonly option?: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** Thrown by a strict parse when `-h` / `--help` was given; `message` is the full help text. */
export class HelpRequested extends Error {
  readonly code = 'ERR_IMG2IMG_HELP';
  constructor(readonly helpText: string) {
    super(helpText);
    this.name = 'HelpRequested';
  }
}

/** Quotes a received value the way Python's argparse does ('abc'); `nothing` stays bare. */
export function quoteReceived(value: unknown): string {
  if (value === undefined) return 'nothing';
  return `'${String(value)}'`;
}

/** Builds an OptionError in the project's single error shape. */
export function expected(what: string, option: string, received: unknown, note?: string): OptionError {
  const tail = note ? ` (${note})` : '';
  return new OptionError(`Expected ${what} for ${option} but received ${quoteReceived(received)}${tail}`, option);
}
