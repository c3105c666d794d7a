/**
 * Event-loop lateness while something runs: a 10 ms interval timer records how late each tick fires, and how
 * much of the wait this thread spent running on a CPU (Linux's per-thread schedstat; elsewhere the event loop's
 * active time, which also counts preemption).
 *
 * Why both: on a machine shared with other jobs the OS keeps a thread waiting for a core for tens or hundreds of
 * ms at random (a plain busy worker thread shows 25-130 ms on 2 loaded cores), whether it sleeps or works; no
 * code in this process can prevent that. A stall caused by work on this thread (decoding, encoding, copying,
 * collecting its garbage) is CPU time of this thread. `worstOwn`, the worst tick's lateness capped by this
 * thread's CPU time in that tick, is therefore the lateness this thread's work caused, and holds its bound on a
 * loaded machine.
 */
import * as fs from 'fs';
import { performance } from 'perf_hooks';

const SCHEDSTAT = '/proc/thread-self/schedstat';
const hasSchedstat = fs.existsSync(SCHEDSTAT);

/** ms this thread has run on a CPU (or been active, without schedstat). */
export function busyMs(): number {
  if (hasSchedstat) return Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  return performance.eventLoopUtilization().active;
}

export interface Lateness<T> {
  /** Worst delay of one tick past its period, in ms (includes waits for a core). */
  worst: number;
  /** Worst delay of one tick caused by this thread being busy, in ms. */
  worstOwn: number;
  /** This thread's CPU time over the whole call, in ms. */
  activeMs: number;
  ticks: number;
  elapsedMs: number;
  result: T;
}

export async function measureLateness<T>(fn: () => Promise<T>, periodMs = 10): Promise<Lateness<T>> {
  const startBusy = busyMs();
  let lastBusy = startBusy;
  let last = performance.now();
  let worst = 0, worstOwn = 0, ticks = 0;
  const tick = () => {
    const now = performance.now();
    const nowBusy = busyMs();
    const late = now - last - periodMs;
    const busy = nowBusy - lastBusy;
    worst = Math.max(worst, late);
    worstOwn = Math.max(worstOwn, Math.min(late, busy));
    last = now;
    lastBusy = nowBusy;
    ticks++;
  };
  const timer = setInterval(tick, periodMs);
  const started = performance.now();
  try {
    const result = await fn();
    tick(); // covers a block that ended just before fn resolved (the tick it delayed has not fired yet)
    return { worst, worstOwn, activeMs: busyMs() - startBusy, ticks, elapsedMs: performance.now() - started, result };
  } finally {
    clearInterval(timer);
  }
}
