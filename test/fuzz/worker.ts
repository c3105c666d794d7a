/**
 * The fuzzer's child process: runs one input at a time on a target and reports how it ended. It is a separate
 * process so that a hang can be killed at its deadline and a native crash or out-of-memory cannot take the
 * harness down with it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isCleanError, runTarget, TargetName } from './targets';

export interface WorkerRequest {
  id: number;
  target: TargetName;
  input: Uint8Array;
}

export interface WorkerReply {
  id: number;
  outcome: 'ok' | 'clean' | 'unclean';
  message?: string;
  stack?: string;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-fuzz-worker-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
process.on('disconnect', () => process.exit(0));

process.on('message', (request: WorkerRequest) => {
  const input = Buffer.from(request.input.buffer, request.input.byteOffset, request.input.byteLength);
  const reply = (outcome: WorkerReply['outcome'], err?: unknown) => {
    const e = err as Error | undefined;
    process.send!({ id: request.id, outcome, message: e?.message?.slice(0, 2000), stack: e?.stack?.slice(0, 4000) } satisfies WorkerReply);
  };
  runTarget(request.target, input, scratch).then(
    () => reply('ok'),
    (err) => reply(isCleanError(err) ? 'clean' : 'unclean', err),
  );
});
process.send!({ id: 0, outcome: 'ok' } satisfies WorkerReply); // ready
