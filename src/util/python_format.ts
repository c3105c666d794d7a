/**
 * Number and value formatting that matches what the Python reference prints, so that
 * opt.txt, loss_log.txt and the console read byte-for-byte like the reference's:
 * `repr(float)` (0.0002, 100.0, 1e-05), `'%.3f' % x` (round-half-even on the exact binary value),
 * `str(v)` for option values (True/False/None/inf) and a subset of `str.format` for `--suffix`.
 */

/** How a number should be printed: Python keeps ints and floats apart, JavaScript does not. */
export type NumberKind = 'int' | 'float';

/** `repr(x)` / `str(x)` of a Python float: shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, like Python's repr.
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? '.' + digits.slice(1) : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0]}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fracPart = digits.slice(exponent + 1);
  return `${sign}${intPart}.${fracPart === '' ? '0' : fracPart}`;
}

/** Splits a finite double into an exact `mantissa * 2**exponent` with an integer mantissa. */
function exactBinary(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  if (biasedExponent === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biasedExponent - 1075 };
}

/**
 * `'%.{digits}f' % x` exactly as CPython prints it: the exact binary value rounded half-to-even
 * (JavaScript's toFixed rounds exact ties up, e.g. 0.125 -> "0.13" where Python prints "0.12").
 */
export function pythonFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const { mantissa, exponent } = exactBinary(x);
  const scale = 10n ** BigInt(digits);
  let scaled: bigint;
  if (exponent >= 0) {
    scaled = (mantissa << BigInt(exponent)) * scale;
  } else {
    const numerator = mantissa * scale;
    const denominator = 1n << BigInt(-exponent);
    scaled = numerator / denominator;
    const twiceRemainder = (numerator % denominator) * 2n;
    if (twiceRemainder > denominator || (twiceRemainder === denominator && scaled % 2n === 1n)) scaled += 1n;
  }
  let text = scaled.toString().padStart(digits + 1, '0');
  if (digits > 0) text = `${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`;
  return (negative ? '-' : '') + text;
}

/** `str(v)` for an option value; `kind` says whether a number was an int or a float in Python. */
export function pythonStr(value: unknown, kind: NumberKind = 'float'): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (kind === 'int' && Number.isInteger(value)) return String(value);
    return pythonFloatRepr(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((item) => pythonRepr(item, kind)).join(', ')}]`;
  return String(value);
}

/** `repr(v)`: like str() but strings are quoted (used inside lists). */
export function pythonRepr(value: unknown, kind: NumberKind = 'float'): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return pythonStr(value, kind);
}

/**
 * Python's `v != default` for option values: numbers and booleans compare numerically
 * (True == 1 == 1.0), everything else by identity of value and type ('0' != 0).
 */
export function pythonEquals(a: unknown, b: unknown): boolean {
  const numeric = (v: unknown) => typeof v === 'number' || typeof v === 'boolean';
  if (numeric(a) && numeric(b)) return Number(a) === Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => pythonEquals(item, b[i]));
  }
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  return a === b;
}

/** One `{name[!conv][:spec]}` field as Python's str.format fills it (spec subset: [[fill]align][sign][0][width][.precision][type]). */
function formatField(value: unknown, kind: NumberKind, conversion: string | undefined, spec: string, field: string): string {
  if (conversion === 'r') value = pythonRepr(value, kind);
  else if (conversion === 's') value = pythonStr(value, kind);
  const match = /^(?:(.)?([<>^=]))?([+\- ])?(0)?(\d+)?(?:\.(\d+))?([sdfFeE%])?$/.exec(spec);
  if (!match) throw new Error(`Expected a format spec such as 03d or .4f for ${field} but received '${spec}'`);
  const [, fillChar, alignChar, signChar, zeroPad, widthText, precisionText, type] = match;
  const width = widthText === undefined ? 0 : Number(widthText);
  // Booleans and strings format as text unless a numeric presentation type is asked for.
  const numeric = typeof value === 'number' || (typeof value === 'boolean' && type !== undefined && type !== 's');
  if (!numeric) {
    let text = typeof value === 'string' ? value : pythonStr(value, kind);
    if (precisionText !== undefined) text = text.slice(0, Number(precisionText));
    return align(text, width, fillChar ?? (zeroPad ? '0' : ' '), alignChar ?? '<');
  }
  const x = Number(value);
  const magnitude = Math.abs(x);
  const precision = precisionText === undefined ? 6 : Number(precisionText);
  let digits: string;
  switch (type) {
    case 'd':
      if (!Number.isInteger(x)) throw new Error(`Expected an integer value for ${field} but received '${pythonStr(x, kind)}'`);
      digits = String(magnitude);
      break;
    case 'f': case 'F': digits = pythonFixed(magnitude, precision); break;
    case '%': digits = pythonFixed(magnitude * 100, precision) + '%'; break;
    case 'e': case 'E': {
      const [m, e] = magnitude.toExponential(precision).split('e');
      const exp = Number(e);
      digits = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
      if (type === 'E') digits = digits.toUpperCase();
      break;
    }
    default:
      digits = pythonStr(magnitude, Number.isInteger(x) && kind === 'int' ? 'int' : kind);
  }
  const sign = x < 0 || Object.is(x, -0) ? '-' : signChar === '+' ? '+' : signChar === ' ' ? ' ' : '';
  if (zeroPad && alignChar === undefined) return sign + digits.padStart(Math.max(0, width - sign.length), '0');
  return align(sign + digits, width, fillChar ?? ' ', alignChar ?? '>');
}

function align(text: string, width: number, fill: string, how: string): string {
  const missing = width - [...text].length;
  if (missing <= 0) return text;
  if (how === '<') return text + fill.repeat(missing);
  if (how === '^') return fill.repeat(Math.floor(missing / 2)) + text + fill.repeat(Math.ceil(missing / 2));
  return fill.repeat(missing) + text;
}

/**
 * `template.format(**values)` for named fields only (what `--suffix {model}_{netG}_size{load_size}` uses).
 * `kinds` says which numeric values are ints; unknown names throw with the field that failed.
 */
export function pythonFormat(
  template: string,
  values: Record<string, unknown>,
  kinds: Record<string, NumberKind> = {},
  what = 'the template',
): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i];
    if (ch === '{' && template[i + 1] === '{') { out += '{'; i += 2; continue; }
    if (ch === '}' && template[i + 1] === '}') { out += '}'; i += 2; continue; }
    if (ch === '}') throw new Error(`Expected '}}' (a literal brace) for ${what} but received '${template}'`);
    if (ch !== '{') { out += ch; i += 1; continue; }
    const end = template.indexOf('}', i);
    if (end < 0) throw new Error(`Expected a closing '}' for ${what} but received '${template}'`);
    const field = template.slice(i + 1, end);
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:!([rs]))?(?::(.*))?$/.exec(field);
    if (!match) throw new Error(`Expected {option_name} fields for ${what} but received '{${field}}'`);
    const [, name, conversion, spec] = match;
    if (!(name in values)) throw new Error(`Expected option names in braces such as {model} for ${what} but received '{${field}}'`);
    out += formatField(values[name], kinds[name] ?? 'float', conversion, spec ?? '', `{${field}}`);
    i = end + 1;
  }
  return out;
}
