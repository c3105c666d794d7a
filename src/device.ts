// The device grammar in one place: '' or 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'. The option parser
// checks the form with DEVICE_PATTERN; runtime.resolveDevice turns a parsed device into a concrete one.

/** 'cpu', 'cuda', 'cuda:N', or '' / 'auto' (CUDA when available). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto' | '';

/** Accepted forms of --device (and every `device` option). */
export const DEVICE_PATTERN = { regex: /^(|auto|cpu|cuda|cuda:\d+)$/, what: 'cpu, cuda or cuda:N' };

/** A concrete device, as runtime.resolveDevice returns it: 'cpu' or 'cuda:N'. */
export type ResolvedDevice = 'cpu' | `cuda:${number}`;

export type ParsedDevice = { type: 'auto' } | { type: 'cpu' } | { type: 'cuda'; index: number };

/** Parses a device string (surrounding spaces ignored); null when it is not one of the accepted forms. */
export function parseDevice(device: string | undefined | null): ParsedDevice | null {
  const d = (device ?? '').trim();
  if (!DEVICE_PATTERN.regex.test(d)) return null;
  if (d === '' || d === 'auto') return { type: 'auto' };
  if (d === 'cpu') return { type: 'cpu' };
  return { type: 'cuda', index: d === 'cuda' ? 0 : Number(d.slice('cuda:'.length)) };
}
