// A process-wide limit on concurrent forwards, shared by every generator's worker thread through a
// SharedArrayBuffer. libtorch already spreads one forward over all intra-op threads, so two forwards at once
// only oversubscribe the cores (each slower, total no faster); pre- and post-processing still overlap.

// Atomics.waitAsync is in Node >= 16 but typed only from lib ES2024.
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Slots free, as an Int32Array of one element over shared memory. */
export type ForwardGate = Int32Array;

export function createForwardGate(slots = 1): ForwardGate {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  gate[0] = slots;
  return gate;
}

/** Waits (without blocking the thread's event loop) for a free slot and takes it. */
export async function acquire(gate: ForwardGate): Promise<void> {
  for (;;) {
    const free = Atomics.load(gate, 0);
    if (free > 0) {
      if (Atomics.compareExchange(gate, 0, free, free - 1) === free) return;
      continue;
    }
    const w = waitAsync(gate, 0, free);
    if (w.async) await w.value;
  }
}

export function release(gate: ForwardGate): void {
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0, 1);
}

/** Runs `fn` holding a slot. */
export async function withGate<T>(gate: ForwardGate, fn: () => Promise<T>): Promise<T> {
  await acquire(gate);
  try {
    return await fn();
  } finally {
    release(gate);
  }
}
