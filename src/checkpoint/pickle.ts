/**
 * A safe unpickler for PyTorch state dicts.
 *
 * Python's pickle is a small stack machine whose GLOBAL + REDUCE opcodes call any importable function, which is
 * how a hostile checkpoint runs `os.system`. This one interprets the data opcodes (protocols 0-5) itself and knows
 * only the handful of globals a state dict is built from: `collections.OrderedDict`, torch's tensor/parameter
 * rebuild functions and the typed storage classes. Everything else is refused by name before anything is built,
 * and nothing from the file is ever executed. Stack, memo, nesting and integer sizes are capped, and every length
 * is checked against the bytes that are actually there before it is used.
 */
import { CheckpointError, DType } from './raw_tensor';

// ---------------------------------------------------------------------------------------------------------------
// Values

/** What unpickling produces. Python int -> bigint, float -> number, str -> string, bytes -> Buffer, list -> array. */
export type PickleValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Buffer
  | PickleValue[]
  | PyTuple
  | PyDict
  | PyGlobal
  | StorageType
  | TensorRecord
  | PersistentObject;

export class PyTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** A dict or OrderedDict. `attributes` holds state set by BUILD (an OrderedDict's `_metadata`). */
export class PyDict {
  readonly entries = new Map<PickleValue, PickleValue>();
  readonly attributes = new Map<string, PickleValue>();

  constructor(readonly ordered: boolean) {}
}

/** One of the allowed callables (OrderedDict, torch's rebuild functions), as a value on the stack. */
export class PyGlobal {
  constructor(readonly qualifiedName: string) {}
}

/** A `torch.<X>Storage` class, which names the dtype of a persistent storage. */
export class StorageType {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: DType,
  ) {}
}

/**
 * A tensor as its pickle describes it: a view of `storage` (whatever the persistent-id callback returned for it).
 * Nothing is checked against the storage here; the caller does that before touching any bytes.
 */
export class TensorRecord {
  constructor(
    readonly storage: PickleValue,
    readonly storageOffset: bigint,
    readonly shape: bigint[],
    readonly stride: bigint[],
  ) {}
}

/** What the caller's persistent-id callback returned for a BINPERSID (a storage, for torch). */
export class PersistentObject {
  constructor(readonly value: unknown) {}
}

export interface UnpickleOptions {
  /** The checkpoint file, for messages. */
  file: string;
  /** Which pickle inside the file (e.g. `data.pkl`), for messages. */
  part: string;
  /** Resolves a persistent id (BINPERSID). Without it, persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => unknown;
}

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just after the STOP opcode (legacy checkpoints hold several pickles in a row). */
  end: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Limits: far above any real state dict, far below anything that could exhaust memory.

const MAX_STACK_SIZE = 1 << 20;
const MAX_MEMO_SIZE = 1 << 20;
/** Open MARKs (nesting of tuples/lists/dicts being built). torch state dicts nest about four deep. */
const MAX_MARK_DEPTH = 1000;
const MAX_LINE_LENGTH = 4096;
/** A LONG1/LONG4 integer of more bytes than this is no size, offset or count. */
const MAX_INTEGER_BYTES = 64;
const HIGHEST_PROTOCOL = 5;

// ---------------------------------------------------------------------------------------------------------------
// Allowed globals

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** The storage class torch pickles for a dtype (the inverse of STORAGE_DTYPES). */
export function storageClassName(dtype: DType): string {
  for (const [name, storageDtype] of Object.entries(STORAGE_DTYPES)) if (storageDtype === dtype) return name;
  throw new TypeError(`Expected a dtype with a torch storage class but received '${dtype}'`);
}

const ORDERED_DICT = 'collections.OrderedDict';
const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2';
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const REBUILD_PARAMETER_WITH_STATE = 'torch._utils._rebuild_parameter_with_state';
const ALLOWED_CALLABLES = new Set([ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE]);

function refusedCall(file: string, qualifiedName: string): CheckpointError {
  return new CheckpointError(
    file,
    `is refused: it asks to call ${qualifiedName}, which a state dict never needs (nothing from the file was executed)`,
  );
}

function resolveGlobal(module: string, name: string, file: string): PyGlobal | StorageType {
  const qualifiedName = `${module}.${name}`;
  if (ALLOWED_CALLABLES.has(qualifiedName)) return new PyGlobal(qualifiedName);
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name)) return new StorageType(qualifiedName, STORAGE_DTYPES[name]);
  throw refusedCall(file, qualifiedName);
}

/** A short description for messages ("an OrderedDict of 3 entries", "'abc'", "42"); never recurses into the value. */
export function describePickleValue(value: PickleValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'bigint') return `${value}`;
  if (typeof value === 'number') return `the float ${value}`;
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (Array.isArray(value)) return `a list of ${value.length} items`;
  if (value instanceof PyTuple) return `a tuple of ${value.items.length} items`;
  if (value instanceof PyDict) return `${value.ordered ? 'an OrderedDict' : 'a dict'} of ${value.entries.size} entries`;
  if (value instanceof PyGlobal) return value.qualifiedName;
  if (value instanceof StorageType) return value.qualifiedName;
  if (value instanceof TensorRecord) return 'a tensor';
  return 'a persistent object';
}

// ---------------------------------------------------------------------------------------------------------------
// The machine

/** Opcodes by byte value. Only the ones handled below exist; any other byte is refused. */
const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  FLOAT: 0x46, // F
  INT: 0x49, // I
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  LONG: 0x4c, // L
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  PERSID: 0x50, // P
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  STRING: 0x53, // S
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  UNICODE: 0x56, // V
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  EMPTY_DICT: 0x7d, // }
  APPENDS: 0x65, // e
  GET: 0x67, // g
  BINGET: 0x68, // h
  INST: 0x69, // i
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  EMPTY_LIST: 0x5d, // ]
  OBJ: 0x6f, // o
  PUT: 0x70, // p
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  EMPTY_TUPLE: 0x29, // )
  SETITEMS: 0x75, // u
  BINFLOAT: 0x47, // G
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

class Unpickler {
  private pos: number;
  private readonly stack: PickleValue[] = [];
  /** Stack heights at each open MARK. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();

  constructor(
    private readonly bytes: Buffer,
    start: number,
    private readonly options: UnpickleOptions,
  ) {
    this.pos = start;
  }

  private fail(problem: string, at = this.pos): CheckpointError {
    return new CheckpointError(this.options.file, `is damaged or not a state dict: ${problem} (at byte ${at} of its ${this.options.part})`);
  }

  private refuse(problem: string): CheckpointError {
    return new CheckpointError(this.options.file, `is refused: ${problem} (nothing from the file was executed)`);
  }

  // --- reading bytes -------------------------------------------------------------------------------------------

  private need(count: number): number {
    if (count < 0 || this.pos + count > this.bytes.length) {
      throw new CheckpointError(
        this.options.file,
        `is truncated: Expected ${count} more bytes at byte ${this.pos} of its ${this.options.part} but only ${this.bytes.length - this.pos} remain`,
      );
    }
    const at = this.pos;
    this.pos += count;
    return at;
  }

  private u8(): number {
    return this.bytes[this.need(1)];
  }

  private u16(): number {
    return this.bytes.readUInt16LE(this.need(2));
  }

  private u32(): number {
    return this.bytes.readUInt32LE(this.need(4));
  }

  private i32(): number {
    return this.bytes.readInt32LE(this.need(4));
  }

  private u64(): number {
    const value = this.bytes.readBigUInt64LE(this.need(8));
    // Anything this large cannot be satisfied by the bytes that remain; need() reports it as truncation.
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }

  private take(count: number): Buffer {
    const at = this.need(count);
    return this.bytes.subarray(at, at + count);
  }

  private line(): string {
    const limit = Math.min(this.bytes.length, this.pos + MAX_LINE_LENGTH);
    const newline = this.bytes.indexOf(0x0a, this.pos);
    if (newline < 0 || newline >= limit) throw this.fail(`Expected a newline-terminated argument within ${MAX_LINE_LENGTH} bytes but received none`);
    const text = this.bytes.toString('latin1', this.pos, newline);
    this.pos = newline + 1;
    return text;
  }

  // --- the stack -----------------------------------------------------------------------------------------------

  private push(value: PickleValue): void {
    if (this.stack.length >= MAX_STACK_SIZE) throw this.refuse(`its pickle stack grows beyond ${MAX_STACK_SIZE} items, which no state dict needs`);
    this.stack.push(value);
  }

  private floor(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }

  private pop(): PickleValue {
    if (this.stack.length <= this.floor()) throw this.fail('Expected a value on the pickle stack but received an empty stack');
    return this.stack.pop() as PickleValue;
  }

  private top(): PickleValue {
    if (this.stack.length <= this.floor()) throw this.fail('Expected a value on the pickle stack but received an empty stack');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.fail('Expected a MARK before this opcode but received none');
    return this.stack.splice(mark);
  }

  private memoPut(index: number, value: PickleValue): void {
    if (!this.memo.has(index) && this.memo.size >= MAX_MEMO_SIZE) {
      throw this.refuse(`its pickle memo grows beyond ${MAX_MEMO_SIZE} entries, which no state dict needs`);
    }
    this.memo.set(index, value);
  }

  private memoGet(index: number): PickleValue {
    const value = this.memo.get(index);
    if (value === undefined) throw this.fail(`Expected memo entry ${index} to exist but it was never stored`);
    return value;
  }

  // --- run -----------------------------------------------------------------------------------------------------

  run(): UnpickleResult {
    for (;;) {
      const at = this.pos;
      const opcode = this.u8();
      if (opcode === OP.STOP) {
        const value = this.pop();
        return { value, end: this.pos };
      }
      this.step(opcode, at);
    }
  }

  private step(opcode: number, at: number): void {
    switch (opcode) {
      // framing and protocol
      case OP.PROTO: {
        const protocol = this.u8();
        if (protocol > HIGHEST_PROTOCOL) throw this.fail(`Expected pickle protocol 0..${HIGHEST_PROTOCOL} but received ${protocol}`, at);
        return;
      }
      case OP.FRAME:
        this.u64(); // frames only group opcodes for buffered reading; the content is read as usual
        return;

      // marks and stack shuffling
      case OP.MARK:
        if (this.marks.length >= MAX_MARK_DEPTH) throw this.refuse(`its pickle nests deeper than ${MAX_MARK_DEPTH} levels, which no state dict needs`);
        this.marks.push(this.stack.length);
        return;
      case OP.POP:
        if (this.marks.length && this.stack.length === this.floor()) this.popMark();
        else this.pop();
        return;
      case OP.POP_MARK:
        this.popMark();
        return;
      case OP.DUP:
        this.push(this.top());
        return;

      // constants and numbers
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(BigInt(this.i32()));
      case OP.BININT1:
        return this.push(BigInt(this.u8()));
      case OP.BININT2:
        return this.push(BigInt(this.u16()));
      case OP.LONG1:
        return this.push(this.littleEndianInteger(this.u8(), at));
      case OP.LONG4: {
        const length = this.i32();
        if (length < 0) throw this.fail(`Expected a non-negative LONG4 length but received ${length}`, at);
        return this.push(this.littleEndianInteger(length, at));
      }
      case OP.INT:
        return this.push(this.textInteger(this.line(), at, true));
      case OP.LONG:
        return this.push(this.textInteger(this.line().replace(/L$/, ''), at, false));
      case OP.BINFLOAT:
        return this.push(this.bytes.readDoubleBE(this.need(8)));
      case OP.FLOAT:
        return this.push(this.textFloat(this.line(), at));

      // strings and bytes
      case OP.BINUNICODE:
        return this.push(this.take(this.u32()).toString('utf8'));
      case OP.SHORT_BINUNICODE:
        return this.push(this.take(this.u8()).toString('utf8'));
      case OP.BINUNICODE8:
        return this.push(this.take(this.u64()).toString('utf8'));
      case OP.UNICODE:
        return this.push(decodeRawUnicodeEscape(this.line()));
      case OP.BINSTRING: {
        const length = this.i32();
        if (length < 0) throw this.fail(`Expected a non-negative BINSTRING length but received ${length}`, at);
        return this.push(this.take(length).toString('utf8')); // torch.load decodes Python 2 str as UTF-8
      }
      case OP.SHORT_BINSTRING:
        return this.push(this.take(this.u8()).toString('utf8'));
      case OP.BINBYTES:
        return this.push(this.take(this.u32()));
      case OP.SHORT_BINBYTES:
        return this.push(this.take(this.u8()));
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        return this.push(this.take(this.u64()));

      // containers
      case OP.EMPTY_TUPLE:
        return this.push(new PyTuple([]));
      case OP.TUPLE:
        return this.push(new PyTuple(this.popMark()));
      case OP.TUPLE1:
        return this.push(new PyTuple([this.pop()]));
      case OP.TUPLE2: {
        const second = this.pop();
        return this.push(new PyTuple([this.pop(), second]));
      }
      case OP.TUPLE3: {
        const third = this.pop();
        const second = this.pop();
        return this.push(new PyTuple([this.pop(), second, third]));
      }
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.LIST:
        return this.push(this.popMark());
      case OP.APPEND: {
        const item = this.pop();
        this.listOnTop(at).push(item);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const list = this.listOnTop(at);
        for (const item of items) list.push(item);
        return;
      }
      case OP.EMPTY_DICT:
        return this.push(new PyDict(false));
      case OP.DICT: {
        const dict = new PyDict(false);
        this.setItems(dict, this.popMark(), at);
        return this.push(dict);
      }
      case OP.SETITEM: {
        const value = this.pop();
        const key = this.pop();
        this.dictOnTop(at).entries.set(key, value);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        this.setItems(this.dictOnTop(at), items, at);
        return;
      }

      // memo
      case OP.BINPUT:
        return this.memoPut(this.u8(), this.top());
      case OP.LONG_BINPUT:
        return this.memoPut(this.u32(), this.top());
      case OP.PUT:
        return this.memoPut(this.textIndex(this.line(), at), this.top());
      case OP.MEMOIZE:
        return this.memoPut(this.memo.size, this.top());
      case OP.BINGET:
        return this.push(this.memoGet(this.u8()));
      case OP.LONG_BINGET:
        return this.push(this.memoGet(this.u32()));
      case OP.GET:
        return this.push(this.memoGet(this.textIndex(this.line(), at)));

      // globals and calls: only the allow-listed ones survive resolveGlobal
      case OP.GLOBAL: {
        const module = this.line();
        const name = this.line();
        return this.push(resolveGlobal(module, name, this.options.file));
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw this.fail(`Expected two strings for STACK_GLOBAL but received ${describePickleValue(module)} and ${describePickleValue(name)}`, at);
        }
        return this.push(resolveGlobal(module, name, this.options.file));
      }
      case OP.REDUCE: {
        const args = this.pop();
        const callable = this.pop();
        return this.push(this.call(callable, args, at));
      }
      case OP.NEWOBJ: {
        const args = this.pop();
        const cls = this.pop();
        return this.push(this.construct(cls, args, at));
      }
      case OP.NEWOBJ_EX: {
        this.pop(); // keyword arguments: OrderedDict.__new__ ignores them
        const args = this.pop();
        const cls = this.pop();
        return this.push(this.construct(cls, args, at));
      }
      case OP.BUILD: {
        const state = this.pop();
        this.build(this.top(), state, at);
        return;
      }
      case OP.BINPERSID:
        return this.push(this.persistentLoad(this.pop(), at));
      case OP.PERSID:
        throw this.refuse('it uses a text persistent id (PERSID), which torch.save never writes');
      case OP.INST: {
        const module = this.line();
        const name = this.line();
        resolveGlobal(module, name, this.options.file); // refuses any global that is not allowed, by name
        throw this.refuse(`it asks to instantiate ${module}.${name} with the INST opcode, which torch.save never writes`);
      }
      case OP.OBJ: {
        const args = this.popMark();
        throw this.refuse(`it asks to instantiate ${describePickleValue(args[0])} with the OBJ opcode, which torch.save never writes`);
      }
      case OP.EXT1:
      case OP.EXT2:
      case OP.EXT4:
        throw this.refuse('it asks for a registered pickle extension (EXT), which a state dict never needs');
      case OP.NEXT_BUFFER:
      case OP.READONLY_BUFFER:
        throw this.refuse('it uses out-of-band pickle buffers, which torch.save never writes');
      case OP.STRING:
      case OP.EMPTY_SET:
      case OP.ADDITEMS:
      case OP.FROZENSET:
        throw this.fail(`Expected an opcode that state dicts use but received 0x${opcode.toString(16)} ('${String.fromCharCode(opcode)}')`, at);
      default:
        throw this.fail(`Expected a pickle opcode but received unknown byte 0x${opcode.toString(16).padStart(2, '0')}`, at);
    }
  }

  // --- helpers for the opcodes ---------------------------------------------------------------------------------

  private littleEndianInteger(length: number, at: number): bigint {
    if (length > MAX_INTEGER_BYTES) throw this.refuse(`it holds a ${length}-byte integer (byte ${at} of its ${this.options.part}), larger than any size or offset`);
    const bytes = this.take(length);
    let value = 0n;
    for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (length > 0 && bytes[length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value;
  }

  private textInteger(text: string, at: number, allowBool: boolean): PickleValue {
    if (allowBool && text === '01') return true;
    if (allowBool && text === '00') return false;
    if (!/^[+-]?\d{1,400}$/.test(text)) throw this.fail(`Expected a decimal integer but received '${text.slice(0, 40)}'`, at);
    return BigInt(text);
  }

  private textFloat(text: string, at: number): number {
    const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
    if (text in special) return special[text];
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) throw this.fail(`Expected a decimal float but received '${text.slice(0, 40)}'`, at);
    return value;
  }

  private textIndex(text: string, at: number): number {
    if (!/^\d{1,10}$/.test(text)) throw this.fail(`Expected a memo index but received '${text.slice(0, 40)}'`, at);
    return Number(text);
  }

  private listOnTop(at: number): PickleValue[] {
    const list = this.top();
    if (!Array.isArray(list)) throw this.refuse(`it asks to append to ${describePickleValue(list)} (byte ${at} of its ${this.options.part}), which only lists support`);
    return list;
  }

  private dictOnTop(at: number): PyDict {
    const dict = this.top();
    if (!(dict instanceof PyDict)) throw this.refuse(`it asks to set items of ${describePickleValue(dict)} (byte ${at} of its ${this.options.part}), which only dicts support`);
    return dict;
  }

  private setItems(dict: PyDict, items: PickleValue[], at: number): void {
    if (items.length % 2 !== 0) throw this.fail(`Expected key/value pairs but received ${items.length} items`, at);
    for (let i = 0; i < items.length; i += 2) dict.entries.set(items[i], items[i + 1]);
  }

  private persistentLoad(pid: PickleValue, at: number): PickleValue {
    if (!this.options.persistentLoad) throw this.refuse(`its ${this.options.part} refers to external data (a persistent id at byte ${at}) where none is expected`);
    return new PersistentObject(this.options.persistentLoad(pid));
  }

  /** REDUCE: the only calls a state dict makes. */
  private call(callable: PickleValue, args: PickleValue, at: number): PickleValue {
    if (!(callable instanceof PyGlobal)) throw this.refuse(`it asks to call ${describePickleValue(callable)} (byte ${at} of its ${this.options.part})`);
    if (!(args instanceof PyTuple)) throw this.fail(`Expected a tuple of arguments for ${callable.qualifiedName} but received ${describePickleValue(args)}`, at);
    const a = args.items;
    switch (callable.qualifiedName) {
      case ORDERED_DICT:
        return this.orderedDict(a, at);
      case REBUILD_TENSOR_V2: // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.length < 6 || a.length > 7) throw this.badArguments(callable, '6 or 7', a, at);
        return this.tensorRecord(callable, a, at);
      case REBUILD_TENSOR: // (storage, offset, size, stride), torch < 1.0
        if (a.length !== 4) throw this.badArguments(callable, '4', a, at);
        return this.tensorRecord(callable, a, at);
      case REBUILD_PARAMETER: // (data, requires_grad, backward_hooks)
      case REBUILD_PARAMETER_WITH_STATE: // (data, requires_grad, backward_hooks, state): the state is Python attributes
        if (!(a[0] instanceof TensorRecord)) throw this.badArguments(callable, 'a tensor first', a, at);
        return a[0];
      default:
        throw refusedCall(this.options.file, callable.qualifiedName);
    }
  }

  private badArguments(callable: PyGlobal, expected: string, args: PickleValue[], at: number): CheckpointError {
    return this.fail(`Expected ${expected} arguments for ${callable.qualifiedName} but received (${args.map(describePickleValue).join(', ')})`, at);
  }

  private orderedDict(args: PickleValue[], at: number): PyDict {
    const dict = new PyDict(true);
    if (args.length === 0) return dict;
    const pairs = args.length === 1 && Array.isArray(args[0]) ? args[0] : null;
    if (!pairs) throw this.fail(`Expected no arguments or a list of pairs for collections.OrderedDict but received ${args.length} arguments`, at);
    for (const pair of pairs) {
      if (!(pair instanceof PyTuple) || pair.items.length !== 2) throw this.fail(`Expected (key, value) pairs for collections.OrderedDict but received ${describePickleValue(pair)}`, at);
      dict.entries.set(pair.items[0], pair.items[1]);
    }
    return dict;
  }

  private tensorRecord(callable: PyGlobal, args: PickleValue[], at: number): TensorRecord {
    const [storage, offset, size, stride] = args;
    const shape = integerTuple(size);
    const strides = integerTuple(stride);
    if (typeof offset !== 'bigint' || !shape || !strides) {
      throw this.fail(
        `Expected (storage, int offset, int tuple size, int tuple stride, ...) for ${callable.qualifiedName} but received (${args.map(describePickleValue).join(', ')})`,
        at,
      );
    }
    return new TensorRecord(storage, offset, shape, strides);
  }

  /** NEWOBJ: `cls.__new__(cls, *args)`, which only OrderedDict may use. */
  private construct(cls: PickleValue, args: PickleValue, at: number): PickleValue {
    if (cls instanceof PyGlobal && cls.qualifiedName === ORDERED_DICT) return new PyDict(true);
    throw this.refuse(`it asks to construct ${describePickleValue(cls)} (byte ${at} of its ${this.options.part}; arguments: ${describePickleValue(args)})`);
  }

  /** BUILD: only an OrderedDict's attributes (torch's `_metadata`) may be set; they are kept as plain data. */
  private build(target: PickleValue, state: PickleValue, at: number): void {
    if (!(target instanceof PyDict) || !target.ordered) {
      throw this.refuse(`it asks to set the state of ${describePickleValue(target)} (byte ${at} of its ${this.options.part}), which a state dict never needs`);
    }
    let attributes: PickleValue = state;
    if (state instanceof PyTuple && state.items.length === 2) attributes = state.items[0] ?? state.items[1]; // (dict state, slot state)
    if (attributes === null) return;
    if (!(attributes instanceof PyDict)) throw this.fail(`Expected a dict of attributes for an OrderedDict but received ${describePickleValue(attributes)}`, at);
    for (const [name, value] of attributes.entries) {
      if (typeof name !== 'string') throw this.fail(`Expected attribute names to be strings but received ${describePickleValue(name)}`, at);
      target.attributes.set(name, value);
    }
  }
}

function integerTuple(value: PickleValue): bigint[] | null {
  if (!(value instanceof PyTuple)) return null;
  return value.items.every((item) => typeof item === 'bigint') ? (value.items as bigint[]) : null;
}

/** Protocol 0 UNICODE argument: latin-1 text with \uXXXX and \UXXXXXXXX escapes. */
function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_match, short: string | undefined, long: string | undefined) => {
    const codePoint = parseInt(short ?? (long as string), 16);
    return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '\ufffd';
  });
}

/**
 * Unpickles one pickle starting at `start` of `bytes`. Refuses (throws CheckpointError naming the file) anything a
 * state dict never contains; see the file comment.
 */
export function unpickle(bytes: Buffer, options: UnpickleOptions, start = 0): UnpickleResult {
  return new Unpickler(bytes, start, options).run();
}
