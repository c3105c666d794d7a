// The environment a data-parallel worker reads, as torchrun sets it: WORLD_SIZE, RANK, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; plus GLOO_SOCKET_IFNAME (as torch reads it) and our
// IMG2IMG_DIST_TIMEOUT_MS.
import { OptionError, quoteReceived } from '../options/option_errors';

/** Rendezvous and collective timeout when IMG2IMG_DIST_TIMEOUT_MS is not set (torch's default is 30 minutes). */
export const DEFAULT_DIST_TIMEOUT_MS = 60_000;

export interface DistributedEnv {
  worldSize: number;
  rank: number;
  localRank: number;
  /** Processes on this machine. */
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
  /** GLOO_SOCKET_IFNAME: the network interface Gloo binds to. */
  glooInterface?: string;
}

function envError(name: string, what: string, value: string | undefined): OptionError {
  return new OptionError(`Expected ${what} for ${name} but received ${quoteReceived(value)}`, name);
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw envError(name, `an integer >= ${min} (set by img2img train --nproc_per_node, torchrun or your launcher)`, raw);
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw envError(name, `an integer >= ${min}`, raw);
  return v;
}

/** True when the address only reaches this machine. */
export function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || /^127\./.test(addr);
}

/**
 * The distributed settings of this process, or null when it runs alone (WORLD_SIZE unset or 1).
 * Every problem is an OptionError naming the variable.
 */
export function readDistributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | null {
  const worldSize = intVar(env, 'WORLD_SIZE', 1, 1);
  if (worldSize === 1) return null;
  const rank = intVar(env, 'RANK', 0);
  if (rank >= worldSize) throw envError('RANK', `an integer below WORLD_SIZE ${worldSize}`, env.RANK);
  const localWorldSize = intVar(env, 'LOCAL_WORLD_SIZE', 1, worldSize);
  const localRank = intVar(env, 'LOCAL_RANK', 0, rank % localWorldSize);
  const masterAddr = env.MASTER_ADDR || '';
  if (!masterAddr) throw envError('MASTER_ADDR', 'the host name or address of rank 0', env.MASTER_ADDR);
  const masterPort = intVar(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw envError('MASTER_PORT', 'a port in 1..65535', env.MASTER_PORT);
  const timeoutMs = intVar(env, 'IMG2IMG_DIST_TIMEOUT_MS', 1, DEFAULT_DIST_TIMEOUT_MS);
  const glooInterface = env.GLOO_SOCKET_IFNAME || undefined;
  return { worldSize, rank, localRank, localWorldSize, masterAddr, masterPort, timeoutMs, glooInterface };
}
