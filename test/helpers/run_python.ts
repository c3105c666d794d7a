/**
 * Runs a snippet with the system Python (the reference's language) so tests can compare
 * our Python work-alikes with the real thing. Tests that need it fail with a clear message when it is missing (.ci/run installs it).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';

export const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((candidate) => fs.existsSync(candidate));

/** Runs `code` with `input` on stdin and returns stdout; throws with stderr when Python fails. */
export function runPython(code: string, input = ''): string {
  if (!PYTHON) throw new Error('Expected a python3 executable for this test but received none');
  const result = spawnSync(PYTHON, ['-c', code], { input, encoding: 'utf8', env: process.env });
  if (result.status !== 0) throw new Error(`python3 failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** Runs `code`, which must print one JSON document, and parses it. */
export function runPythonJson<T>(code: string, input = ''): T {
  return JSON.parse(runPython(code, input)) as T;
}
