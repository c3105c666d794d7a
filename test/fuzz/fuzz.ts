/**
 * `npm run fuzz -- [--seconds N] [--per_input_ms MS] [--out DIR] [--seed S] [--targets image,checkpoint,archive]`:
 * mutation-based fuzzing of the image decoders, checkpoint readers and archive reader (harness.ts). Exits 1 when
 * it found a crash, hang or unclean error (saved under --out, default ./fuzz-findings), 0 otherwise.
 */
import * as path from 'path';
import { fuzz } from './harness';
import { loadSeeds } from './seeds';
import { FUZZ_TARGETS, TargetName } from './targets';

function parse(argv: string[]): { seconds: number; perInputMs: number; out: string; seed?: number; targets: TargetName[] } {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!flag.startsWith('--') || i + 1 >= argv.length) throw new Error(`Expected --flag value pairs for npm run fuzz but received '${flag}'`);
    values[flag.slice(2)] = argv[++i];
  }
  const number = (key: string, fallback: number): number => {
    if (values[key] === undefined) return fallback;
    const n = Number(values[key]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`Expected a positive number for --${key} but received '${values[key]}'`);
    return n;
  };
  const targets = (values.targets ?? FUZZ_TARGETS.join(',')).split(',') as TargetName[];
  for (const t of targets) if (!FUZZ_TARGETS.includes(t)) throw new Error(`Expected one of ${FUZZ_TARGETS.join(', ')} for --targets but received '${t}'`);
  return {
    seconds: number('seconds', 60),
    perInputMs: number('per_input_ms', 5000),
    out: path.resolve(values.out ?? 'fuzz-findings'),
    seed: values.seed !== undefined ? number('seed', 1) : undefined,
    targets,
  };
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const all = loadSeeds();
  const seeds = Object.fromEntries(args.targets.map((t) => [t, all[t as keyof typeof all]]));
  const report = await fuzz({ seconds: args.seconds, perInputMs: args.perInputMs, outDir: args.out, seeds, seed: args.seed, log: (l) => console.log(l) });
  for (const [target, s] of Object.entries(report.byTarget)) console.log(`${target}: ${s.inputs} inputs (${s.ok} accepted, ${s.clean} refused cleanly)`);
  console.log(`${report.inputs} inputs in ${report.seconds.toFixed(1)} s (seed ${report.seed}); ${report.findings.length} finding(s)${report.findings.length ? ` in ${args.out}` : ''}`);
  return report.findings.length ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`npm run fuzz: ${(err as Error).message}`);
  process.exit(2);
});
