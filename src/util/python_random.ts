/**
 * Python's `random` module (CPython 3.11) in TypeScript: the same MT19937 generator, the same seeding
 * of integers (init_by_array over the 32-bit words of |seed|), and the same derivations for random(),
 * getrandbits(), randint()/randrange() (rejection sampling with getrandbits), uniform(), choice()
 * and shuffle(). The reference draws crops, flips and unaligned B indices from `random`, so with the
 * same seed the data pipeline makes the same choices as the reference.
 */
import { randomBytes } from 'crypto';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** State as `random.getstate()` holds it: (3, (mt[0..623], index), gauss_next); JSON-able. */
export interface PythonRandomState {
  version: 3;
  /** 624 state words followed by the position in them (625 numbers), as in Python's getstate()[1]. */
  internalState: number[];
  gaussNext: number | null;
}

export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private index = N + 1;
  private gaussNext: number | null = null;

  /** Seeded like `random.Random(seed)`; no seed = from the OS entropy source, as Python does. */
  constructor(seed?: number | bigint) {
    this.seed(seed);
  }

  /** `random.seed(a)` for an int `a` (negative seeds use |a|, as CPython does). */
  seed(seed?: number | bigint): void {
    let key: number[];
    if (seed === undefined) {
      const bytes = randomBytes(N * 4);
      key = Array.from({ length: N }, (_, i) => bytes.readUInt32LE(i * 4));
    } else {
      if (typeof seed === 'number' && !Number.isInteger(seed)) {
        throw new Error(`Expected an integer for the random seed but received '${seed}'`);
      }
      let magnitude = BigInt(seed);
      if (magnitude < 0n) magnitude = -magnitude;
      key = [];
      while (magnitude > 0n) {
        key.push(Number(magnitude & 0xffffffffn));
        magnitude >>= 32n;
      }
      if (key.length === 0) key.push(0);
    }
    this.initByArray(key);
    this.gaussNext = null;
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i += 1) {
      const previous = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
    this.index = N;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k -= 1) {
      const previous = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(previous, 1664525)) + key[j] + j) >>> 0;
      i += 1;
      j += 1;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k -= 1) {
      const previous = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(previous, 1566083941)) - i) >>> 0;
      i += 1;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
    }
    mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
    this.index = N;
  }

  /** One tempered 32-bit output (genrand_uint32). */
  private nextUint32(): number {
    const mt = this.mt;
    if (this.index >= N) {
      let kk = 0;
      for (; kk < N - M; kk += 1) {
        const y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      for (; kk < N - 1; kk += 1) {
        const y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      const y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
      mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.random()`: a float in [0, 1) with 53 random bits from two draws. */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  /** `random.getrandbits(k)` for k <= 53 (the result must fit a double exactly); see getrandbitsBig for more. */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k > 53) {
      throw new Error(`Expected an integer in [0, 53] for getrandbits but received '${k}' (use getrandbitsBig)`);
    }
    if (k === 0) return 0;
    if (k <= 32) return this.nextUint32() >>> (32 - k);
    // Words are filled least significant first; the last word keeps its top (k - 32) bits.
    const low = this.nextUint32();
    const high = this.nextUint32() >>> (64 - k);
    return high * 4294967296 + low;
  }

  /** `random.getrandbits(k)` for any k >= 0, as a bigint. */
  getrandbitsBig(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) throw new Error(`Expected a non-negative integer for getrandbits but received '${k}'`);
    let result = 0n;
    let shift = 0n;
    for (let remaining = k; remaining > 0; remaining -= 32) {
      let word = this.nextUint32();
      if (remaining < 32) word >>>= 32 - remaining;
      result |= BigInt(word) << shift;
      shift += 32n;
    }
    return result;
  }

  /** `_randbelow_with_getrandbits(n)`: uniform in [0, n) by rejection, for 0 < n <= 2^53. */
  randbelow(n: number): number {
    const bits = n.toString(2).length; // n.bit_length()
    let r = this.getrandbits(bits);
    while (r >= n) r = this.getrandbits(bits);
    return r;
  }

  /** `random.randrange(start, stop)` with step 1. */
  randrange(start: number, stop: number): number {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop)) {
      throw new Error(`Expected integers for randrange but received '${start}', '${stop}'`);
    }
    const width = stop - start;
    if (width <= 0) throw new Error(`empty range for randrange() (${start}, ${stop}, ${width})`);
    return start + this.randbelow(width);
  }

  /** `random.randint(a, b)`: an integer in [a, b], both ends included. */
  randint(a: number, b: number): number {
    return this.randrange(a, b + 1);
  }

  /** `random.uniform(a, b)`. */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random();
  }

  /** `random.choice(seq)`. */
  choice<T>(sequence: readonly T[]): T {
    if (sequence.length === 0) throw new Error('Cannot choose from an empty sequence');
    return sequence[this.randbelow(sequence.length)];
  }

  /** `random.shuffle(x)` in place (Fisher–Yates from the end, as CPython). */
  shuffle<T>(list: T[]): void {
    for (let i = list.length - 1; i > 0; i -= 1) {
      const j = this.randbelow(i + 1);
      [list[i], list[j]] = [list[j], list[i]];
    }
  }

  getState(): PythonRandomState {
    return { version: 3, internalState: [...this.mt, this.index], gaussNext: this.gaussNext };
  }

  setState(state: PythonRandomState): void {
    const words = state.internalState;
    const valid = state.version === 3 && Array.isArray(words) && words.length === N + 1
      && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) && words[N] <= N;
    if (!valid) throw new Error('Expected a state from PythonRandom.getState() (version 3, 625 words) for setState but received something else');
    this.mt.set(words.slice(0, N));
    this.index = words[N];
    this.gaussNext = state.gaussNext ?? null;
  }
}
