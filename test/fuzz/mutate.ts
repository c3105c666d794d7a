/**
 * Byte-level mutations for the fuzzer (AFL-style havoc: bit flips, interesting values, chunk deletes,
 * duplications, truncations, splices with another seed), driven by a seeded PRNG so that a run can be repeated.
 */

/** mulberry32: small, fast, good enough to pick mutations; seeded so runs are reproducible. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** Inputs never grow past this: the point is malformed structure, not size. */
export const MAX_INPUT = 4 << 20;
const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff];
const INTERESTING_32 = [0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** Magic numbers and markers of the formats under test, inserted or overwritten at random places. */
const TOKENS = [
  'PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'PK\x06\x06', 'PK\x06\x07', 'ustar\x0000', '././@LongLink', '\x1f\x8b\x08',
  '\xff\xd8\xff', '\xff\xc0', '\xff\xc2', '\xff\xc4', '\xff\xda', '\xff\xd9', '\xff\xdd', '\x89PNG\r\n\x1a\n', 'IHDR', 'IDAT',
  'PLTE', 'tRNS', 'IEND', 'BM', 'GIF89a', 'II*\x00', 'MM\x00*', 'P6\n', 'P3\n', '65535\n', '\x80\x02', '\x8a\x0a', 'ctorch\n', 'data.pkl',
  '{"__metadata__":', '"data_offsets":[0,', '"shape":[', '/../', '..', 'x'.repeat(300),
].map((token) => Buffer.from(token, 'latin1'));

type Mutation = (data: Buffer, rng: Rng, other: Buffer) => Buffer;

const mutations: Mutation[] = [
  // flip one bit
  (d, rng) => { if (d.length) d[rng.below(d.length)] ^= 1 << rng.below(8); return d; },
  // an interesting byte
  (d, rng) => { if (d.length) d[rng.below(d.length)] = rng.pick(INTERESTING_8); return d; },
  // an interesting (or size-related) 32-bit value, either endianness: where lengths and offsets live
  (d, rng) => {
    if (d.length < 4) return d;
    const at = rng.below(d.length - 3);
    const value = rng.next() < 0.3 ? (d.length + rng.below(3) - 1) >>> 0 : rng.pick(INTERESTING_32);
    if (rng.next() < 0.5) d.writeUInt32LE(value, at); else d.writeUInt32BE(value, at);
    return d;
  },
  // delete a chunk
  (d, rng) => {
    if (d.length < 2) return d;
    const at = rng.below(d.length);
    const length = 1 + rng.below(Math.min(d.length - at, 1 + rng.below(4096)));
    return Buffer.concat([d.subarray(0, at), d.subarray(at + length)]);
  },
  // duplicate a chunk in place
  (d, rng) => {
    if (d.length === 0 || d.length >= MAX_INPUT) return d;
    const at = rng.below(d.length);
    const length = 1 + rng.below(Math.min(d.length - at, 1024));
    return Buffer.concat([d.subarray(0, at + length), d.subarray(at, at + length), d.subarray(at + length)]);
  },
  // truncate
  (d, rng) => d.subarray(0, rng.below(d.length + 1)),
  // random bytes over a chunk
  (d, rng) => {
    if (d.length === 0) return d;
    const at = rng.below(d.length);
    const length = 1 + rng.below(Math.min(d.length - at, 64));
    for (let i = 0; i < length; i++) d[at + i] = rng.below(256);
    return d;
  },
  // a format token inserted, or written over what is there
  (d, rng) => {
    const token = rng.pick(TOKENS);
    const at = rng.below(d.length + 1);
    if (rng.next() < 0.5 || at + token.length > d.length) return Buffer.concat([d.subarray(0, at), token, d.subarray(at)]);
    token.copy(d, at);
    return d;
  },
  // splice: the start of this input, the end of another
  (d, rng, other) => Buffer.concat([d.subarray(0, rng.below(d.length + 1)), other.subarray(rng.below(other.length + 1))]),
];

/** One to four stacked mutations of `seed` (never modified), sometimes spliced with `other`. */
export function mutate(seed: Buffer, other: Buffer, rng: Rng): Buffer {
  let data = Buffer.from(seed);
  const rounds = 1 + rng.below(4);
  for (let i = 0; i < rounds; i++) data = Buffer.from(rng.pick(mutations)(data, rng, other));
  return data.length > MAX_INPUT ? data.subarray(0, MAX_INPUT) : data;
}
