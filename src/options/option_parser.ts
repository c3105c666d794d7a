/**
 * A small argparse work-alike: the reference gathers its options in several passes
 * (parse known → model hook → parse known → dataset hook → strict parse), and this parser
 * keeps exactly the argparse behaviours that matter for that: typed values converted from
 * strings (string defaults of typed options are converted too — the `--load_iter` default '0' quirk),
 * `set_defaults` for options that may not exist yet, unknown flags left over in known passes,
 * and one strict parse at the end that names every unrecognised flag with a suggestion.
 * Prefix abbreviations (`--lambda_L` for `--lambda_L1`) are deliberately not accepted.
 */
import { expected, HelpRequested, OptionError } from './option_errors';
import { NumberKind, pythonStr } from '../util/python_format';

/** 'bool': CUT's `type=str2bool, nargs='?', const=True`: `--x` alone is true, `--x false` / `--x=no` set it. */
export type OptionType = 'str' | 'int' | 'float' | 'flag' | 'bool';
export type OptionValue = string | number | boolean | null;

export interface ArgumentSpec {
  type: OptionType;
  /** Omitted: false for flags, None (null) otherwise. A string default of an int/float option is converted (argparse). */
  default?: OptionValue;
  help?: string;
  /** Allowed values (after type conversion). */
  choices?: readonly (string | number)[];
  /** Values accepted besides the listed choices (a grammar such as unet_<N>downs); help and errors list the choices. */
  alsoAccepts?: (value: string | number) => boolean;
  /** Heading the option is listed under in formatHelp(). */
  group?: string;
  required?: boolean;
  /** Smallest accepted int/float value. */
  min?: number;
  /** A shape the string value must have, with `what` used in the error ("cpu, cuda or cuda:N"). */
  pattern?: { regex: RegExp; what: string };
  /** Placeholder shown in help, e.g. DATAROOT. */
  metavar?: string;
}

export interface Argument {
  readonly name: string;
  readonly flag: string;
  spec: ArgumentSpec;
}

export type OptionValues = Record<string, OptionValue>;

export interface KnownParse {
  values: OptionValues;
  /** Tokens no argument consumed, in order (argparse's `extras`). */
  extras: string[];
  /** Unknown `--flags` among the extras. */
  unknownFlags: string[];
  helpRequested: boolean;
  /** Required flags not given (only with deferRequired; otherwise the first one throws). */
  missing: string[];
}

const INTEGER = /^[+-]?\d+(?:_\d+)*$/;
const DECIMAL = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?$/;
const SPECIAL_FLOAT = /^([+-]?)(inf|infinity|nan)$/i;
const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/;
const TRUE_WORDS = ['yes', 'true', 't', 'y', '1'];
const FALSE_WORDS = ['no', 'false', 'f', 'n', '0'];

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

export class OptionParser {
  private readonly args = new Map<string, Argument>();
  /** Parser-level defaults (argparse `_defaults`), also for names with no argument. */
  private readonly parserDefaults = new Map<string, OptionValue>();

  constructor(readonly prog = 'img2img', readonly description = '') {}

  addArgument(flag: string, spec: ArgumentSpec): Argument {
    if (!/^--[A-Za-z][A-Za-z0-9_]*$/.test(flag)) throw new Error(`Expected a flag like --name for addArgument but received '${flag}'`);
    const name = flag.slice(2);
    if (this.args.has(name)) throw new Error(`Expected a new option for addArgument but received '${flag}', which already exists`);
    const resolved: ArgumentSpec = { ...spec };
    // argparse: with no explicit default, a parser-level set_defaults value applies.
    if (!('default' in spec) || spec.default === undefined) {
      resolved.default = this.parserDefaults.has(name)
        ? this.parserDefaults.get(name)!
        : spec.type === 'flag' ? false : null;
    }
    const argument: Argument = { name, flag, spec: resolved };
    this.args.set(name, argument);
    return argument;
  }

  /** argparse `set_defaults`: changes the default of existing options and records the rest. */
  setDefaults(defaults: Record<string, OptionValue>): void {
    for (const [name, value] of Object.entries(defaults)) {
      this.parserDefaults.set(name, value);
      const argument = this.args.get(name);
      if (argument) argument.spec = { ...argument.spec, default: value };
    }
  }

  /** argparse `get_default`: the option's declared default (unconverted), else the set_defaults value, else null. */
  getDefault(name: string): OptionValue {
    const argument = this.args.get(name);
    if (argument) return argument.spec.default ?? null;
    return this.parserDefaults.get(name) ?? null;
  }

  /** True when `name` is an option or a set_defaults name (i.e. it appears in parsed values). */
  has(name: string): boolean {
    return this.args.has(name) || this.parserDefaults.has(name);
  }

  getArgument(name: string): Argument | undefined {
    return this.args.get(name);
  }

  get arguments(): Argument[] {
    return [...this.args.values()];
  }

  /** Whether a number stored under `name` was an int or a float in Python (for printing). */
  numberKind(name: string): NumberKind {
    return this.args.get(name)?.spec.type === 'int' ? 'int' : 'float';
  }

  /** Converts and validates one command-line string for `argument`. */
  private convert(argument: Argument, raw: string): OptionValue {
    const { spec, flag } = argument;
    let value: OptionValue = raw;
    if (spec.type === 'int') {
      const text = raw.trim();
      const parsed = INTEGER.test(text) ? Number(text.replace(/_/g, '')) : NaN;
      if (!Number.isSafeInteger(parsed)) throw expected('an integer', flag, raw);
      value = parsed;
    } else if (spec.type === 'bool') {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) value = true;
      else if (FALSE_WORDS.includes(word)) value = false;
      else throw expected('a boolean (yes, true, t, y, 1, no, false, f, n, 0)', flag, raw);
    } else if (spec.type === 'float') {
      const text = raw.trim();
      const special = SPECIAL_FLOAT.exec(text);
      let parsed: number;
      if (special) parsed = special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
      else parsed = DECIMAL.test(text) ? Number(text.replace(/_/g, '')) : NaN;
      if (Number.isNaN(parsed) && !special) throw expected('a number', flag, raw);
      value = parsed;
    }
    if (spec.pattern && !spec.pattern.regex.test(raw)) throw expected(spec.pattern.what, flag, raw);
    if (spec.choices && !spec.choices.includes(value as string | number) && !spec.alsoAccepts?.(value as string | number)) {
      throw expected(`one of ${spec.choices.join(', ')}`, flag, raw);
    }
    if (spec.min !== undefined && typeof value === 'number' && !(value >= spec.min)) {
      throw expected(`${spec.type === 'int' ? 'an integer' : 'a number'} >= ${spec.min}`, flag, raw);
    }
    return value;
  }

  /** The value an option has when it is not given: its default, converted if it is a string (argparse). */
  private defaultValue(argument: Argument): OptionValue {
    const value = argument.spec.default ?? null;
    if (typeof value === 'string' && (argument.spec.type === 'int' || argument.spec.type === 'float')) {
      return this.convert(argument, value);
    }
    return value;
  }

  /** argparse `parse_known_args`: known options are parsed and validated, everything else is returned in `extras`. */
  parseKnown(argv: readonly string[], options: { deferRequired?: boolean } = {}): KnownParse {
    const given = new Map<string, OptionValue>();
    const extras: string[] = [];
    const unknownFlags: string[] = [];
    let helpRequested = false;
    for (let i = 0; i < argv.length; i += 1) {
      const token = argv[i];
      if (token === '--') { extras.push(...argv.slice(i + 1)); break; }
      if (token === '-h' || token === '--help') { helpRequested = true; continue; }
      if (!token.startsWith('--')) { extras.push(token); continue; }
      const equals = token.indexOf('=');
      const name = token.slice(2, equals < 0 ? undefined : equals);
      const argument = this.args.get(name);
      if (!argument) { extras.push(token); unknownFlags.push(`--${name}`); continue; }
      if (argument.spec.type === 'flag') {
        if (equals >= 0) throw expected('no value', argument.flag, token.slice(equals + 1), 'it is a switch');
        given.set(name, true);
        continue;
      }
      if (argument.spec.type === 'bool' && equals < 0) {
        // nargs='?': the next token is this option's value only when it reads as a boolean.
        const next = argv[i + 1]?.toLowerCase();
        const isWord = next !== undefined && (TRUE_WORDS.includes(next) || FALSE_WORDS.includes(next));
        given.set(name, isWord ? this.convert(argument, argv[++i]) : true);
        continue;
      }
      let raw: string | undefined;
      if (equals >= 0) {
        raw = token.slice(equals + 1);
      } else {
        const next = argv[i + 1];
        // argparse takes the next token as the value unless it looks like an option (negative numbers are values).
        if (next !== undefined && (!next.startsWith('-') || NEGATIVE_NUMBER.test(next))) {
          raw = next;
          i += 1;
        }
      }
      if (raw === undefined) throw expected('a value', argument.flag, undefined);
      given.set(name, this.convert(argument, raw));
    }
    const values: OptionValues = {};
    const missing: string[] = [];
    for (const argument of this.args.values()) {
      if (given.has(argument.name)) values[argument.name] = given.get(argument.name)!;
      // argparse runs --help before its required-options check, so help works without --dataroot.
      else if (argument.spec.required && !helpRequested) {
        if (!options.deferRequired) throw expected('a value', argument.flag, undefined, 'it is required');
        missing.push(argument.flag);
        values[argument.name] = this.defaultValue(argument);
      } else values[argument.name] = this.defaultValue(argument);
    }
    for (const [name, value] of this.parserDefaults) {
      if (!(name in values)) values[name] = value;
    }
    return { values, extras, unknownFlags, helpRequested, missing };
  }

  /** argparse `parse_args`: like parseKnown, but anything left over is an error and --help throws HelpRequested. */
  parse(argv: readonly string[]): OptionValues {
    // Unknown flags are reported before missing required ones: `--datroot x` should name --datroot first.
    const known = this.parseKnown(argv, { deferRequired: true });
    if (known.helpRequested) throw new HelpRequested(this.formatHelp());
    if (known.extras.length > 0) {
      const suggestions = known.unknownFlags
        .map((flag) => ({ flag, suggestion: this.suggest(flag) }))
        .filter((entry) => entry.suggestion !== undefined);
      let hint = '';
      if (known.unknownFlags.length === 1 && suggestions.length === 1) hint = ` (did you mean ${suggestions[0].suggestion}?)`;
      else if (suggestions.length > 0) {
        hint = ` (${suggestions.map((entry) => `${entry.flag}: did you mean ${entry.suggestion}?`).join('; ')})`;
      }
      throw new OptionError(`unrecognized arguments: ${known.extras.join(' ')}${hint}`, known.unknownFlags[0]);
    }
    if (known.missing.length) throw expected('a value', known.missing[0], undefined, 'it is required');
    return known.values;
  }

  /** The closest known flag to an unknown one, if it is close enough to be a typo. */
  suggest(flag: string): string | undefined {
    const name = flag.replace(/^-+/, '').split('=')[0];
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of this.args.keys()) {
      const distance = candidate.toLowerCase().startsWith(name.toLowerCase()) && name.length >= 3
        ? 0.5
        : editDistance(name.toLowerCase(), candidate.toLowerCase());
      if (distance < bestDistance) { bestDistance = distance; best = candidate; }
    }
    const tolerance = Math.max(1, Math.floor(name.length / 3));
    return best !== undefined && bestDistance <= tolerance ? `--${best}` : undefined;
  }

  /** Help text grouped by `group`, each option with its type, choices and default. */
  formatHelp(): string {
    const lines = [`usage: ${this.prog} [options]`];
    if (this.description) lines.push('', this.description);
    const groups = new Map<string, Argument[]>();
    for (const argument of this.args.values()) {
      const group = argument.spec.group ?? 'options';
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group)!.push(argument);
    }
    lines.push('', '  -h, --help                 show this help message and exit');
    for (const [group, members] of groups) {
      lines.push('', `${group}:`);
      for (const argument of members) {
        const { spec } = argument;
        let invocation = argument.flag;
        if (spec.type === 'bool') invocation += ` [${spec.metavar ?? argument.name.toUpperCase()}]`; // argparse's nargs='?'
        else if (spec.type !== 'flag') {
          invocation += ' ' + (spec.choices ? `{${spec.choices.join(',')}}` : spec.metavar ?? argument.name.toUpperCase());
        }
        const notes: string[] = [];
        if (spec.required) notes.push('required');
        else if (spec.type !== 'flag') notes.push(`default: ${pythonStr(spec.default ?? null, this.numberKind(argument.name))}`);
        const help = [spec.help ?? '', notes.length ? `(${notes.join(', ')})` : ''].filter(Boolean).join(' ');
        const padded = `  ${invocation}`;
        lines.push(padded.length < 29 ? `${padded.padEnd(29)}${help}` : `${padded}\n${' '.repeat(29)}${help}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}
