// Entry point of a generator's worker thread: loads the network once, then runs translate jobs one at a time
// (runTranslateJob), taking the process-wide forward gate around each forward. Results go back by transfer.
import { parentPort, workerData } from 'worker_threads';
import { AbortError, serializeError, SerializedError } from '../errors';
import type { Network, NetworkDescription } from '../networks';
import type { Precision } from '../precision';
import { resolveDevice, setNumThreads } from '../runtime';
import { Tensor } from '../tensor';
import { ForwardGate, withGate } from './forward_gate';
import { ArchitectureOptions, buildGenerator } from './load_network';
import { sizeMultiple } from '../architectures';
import { InPieces, isInPieces, PieceCollector } from './input_pieces';
import { forwardBytesPerPixel, JobOptions, JobOutput, runTranslateJob, TranslateInput } from './translate_job';

export const GENERATOR_WORKER_ROLE = 'torch-img2img-generator-worker';

export interface GeneratorWorkerData {
  role: typeof GENERATOR_WORKER_ROLE;
  file: string;
  architecture: ArchitectureOptions;
  device: string;
  mode: 'eval' | 'train';
  /** Checked by loadGenerator against the device before the worker starts. */
  precision: Precision;
  maxImagePixels: number;
  maxForwardBytes: number;
  /** The caller's libtorch thread count (loading the addon here would otherwise reset it). */
  threads: number;
  gate: ForwardGate;
}

export type GeneratorRequest =
  | { type: 'translate'; id: number; input: TranslateInput | InPieces; options: JobOptions & { progress: boolean } }
  | { type: 'input-piece'; id: number; piece: Uint8Array }
  | { type: 'cancel'; id: number }
  | { type: 'dispose' };

export type GeneratorReply =
  | { type: 'ready'; description: NetworkDescription; device: string }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'done'; id: number; output: JobOutput; notes: string[] }
  | { type: 'failed'; id: number; error: SerializedError; notes: string[] };

/** A transferable copy of bytes: the buffer itself when the view spans it, else a fresh copy (pooled Buffers). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

async function forward(network: Network, device: string, mode: 'eval' | 'train', precision: Precision, data: Float32Array, shape: number[]): Promise<Float32Array> {
  network.train(mode === 'train');
  network.precision = precision;
  const x = Tensor.fromFloat32Array(data, shape, device);
  let y: Tensor | null = null;
  try {
    y = await network.forwardAsync(x, { outputDevice: 'cpu' });
    return y.toFloat32Array();
  } finally {
    x.dispose();
    y?.dispose();
  }
}

function serve(data: GeneratorWorkerData): void {
  const port = parentPort!;
  let network: Network;
  let description: NetworkDescription;
  let device: string;
  try {
    setNumThreads(data.threads);
    device = resolveDevice(data.device);
    ({ network, description } = buildGenerator(data.file, data.architecture, device));
    network.precision = data.precision;
  } catch (err) {
    port.postMessage({ type: 'load-failed', error: serializeError(err) } satisfies GeneratorReply);
    return;
  }
  const multiple = sizeMultiple(description.arch);
  const running = new Set<number>();
  const cancelled = new Set<number>();
  port.postMessage({ type: 'ready', description, device } satisfies GeneratorReply);

  async function run(id: number, input: TranslateInput, options: JobOptions & { progress: boolean }): Promise<void> {
    const notes: string[] = [];
    running.add(id);
    try {
      const output = await runTranslateJob(input, options, {
        inputNc: description.inputNc, outputNc: description.outputNc ?? 3, multiple, arch: description.arch, maxImagePixels: data.maxImagePixels, mode: data.mode,
        maxForwardBytes: data.maxForwardBytes, forwardBytesPerPixel: forwardBytesPerPixel(description.width),
        forward: (x, shape, mode) => withGate(data.gate, () => {
          if (cancelled.has(id)) throw new AbortError('translate was aborted');
          return forward(network, device, mode, options.precision ?? data.precision, x, shape);
        }),
        checkCancelled: () => { if (cancelled.has(id)) throw new AbortError('translate was aborted'); },
        note: (n) => notes.push(n),
        progress: options.progress ? (done, total) => port.postMessage({ type: 'progress', id, done, total } satisfies GeneratorReply) : undefined,
      });
      let transfer: ArrayBuffer[];
      if ('encoded' in output) { output.encoded = ownBuffer(output.encoded); transfer = [output.encoded.buffer as ArrayBuffer]; }
      else { output.raw.data = ownBuffer(output.raw.data); transfer = [output.raw.data.buffer as ArrayBuffer]; }
      port.postMessage({ type: 'done', id, output, notes } satisfies GeneratorReply, transfer);
    } catch (err) {
      port.postMessage({ type: 'failed', id, error: serializeError(err), notes } satisfies GeneratorReply);
    } finally {
      running.delete(id);
      cancelled.delete(id);
    }
  }

  // Inputs still arriving in pieces, with the options of their request.
  const collecting = new Map<number, { collector: PieceCollector; options: JobOptions & { progress: boolean } }>();
  port.on('message', (m: GeneratorRequest) => {
    if (m.type === 'translate') {
      if (isInPieces(m.input)) collecting.set(m.id, { collector: new PieceCollector(m.input.inPieces), options: m.options });
      else void run(m.id, m.input, m.options);
    } else if (m.type === 'input-piece') {
      const c = collecting.get(m.id);
      const input = c?.collector.add(m.piece);
      if (c && input) { collecting.delete(m.id); void run(m.id, input, c.options); }
    } else if (m.type === 'cancel') {
      if (running.has(m.id)) cancelled.add(m.id);
      else if (collecting.delete(m.id)) port.postMessage({ type: 'failed', id: m.id, error: serializeError(new AbortError('translate was aborted')), notes: [] } satisfies GeneratorReply);
    }
    else if (m.type === 'dispose') { network.dispose(); port.close(); }
  });
}

if (parentPort && (workerData as GeneratorWorkerData | undefined)?.role === GENERATOR_WORKER_ROLE) {
  serve(workerData as GeneratorWorkerData);
}
