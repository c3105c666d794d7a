/**
 * `img2img eval <results folder>` or `img2img eval --real DIR --fake DIR`: prints a table (or --json) of L1, PSNR,
 * SSIM, FID and KID, and for a results folder adds a line to its index.html.
 */
import * as fs from 'fs';
import * as path from 'path';
import { addFidWeightsOption } from '../options/metric_options';
import { expected } from '../options/option_errors';
import { OptionParser } from '../options/option_parser';
import { parseToolArgs, PROCESS_IO, runTool, ToolIO } from './tool_args';
import { writeFileAtomic } from '../util/atomic_write';
import { evaluateSets, EvaluateResult, folderSets, METRICS, MetricName, resultSets } from '../metrics/evaluate';
import { FID_WEIGHTS_ENV, FID_WEIGHTS_FILE, resolveFidWeightsPath } from '../metrics/fid_weights_location';
import { KID_DEFAULTS } from '../metrics/frechet';

function buildParser(): OptionParser {
  const description = [
    'Measures translated images against real ones.',
    '  img2img eval ./results/facades/test_latest          a folder written by img2img test',
    '  img2img eval --real DIR --fake DIR                   two folders (paired when the file names match)',
    '',
    'L1 (mean |real - fake| on 0-255), PSNR (dB) and SSIM are per image pair, averaged; they equal scikit-image\'s',
    'peak_signal_noise_ratio and structural_similarity(channel_axis=-1) (--ssim_gaussian: gaussian_weights=True,',
    'sigma=1.5, use_sample_covariance=False). FID is pytorch-fid\'s (pool3 of its Inception, statistics in float64);',
    `KID is the unbiased MMD² with the cubic polynomial kernel over ${KID_DEFAULTS.subsets} random subsets of`,
    `min(${KID_DEFAULTS.subsetSize}, N) images (seed ${KID_DEFAULTS.seed}): mean ± std. FID and KID need ${FID_WEIGHTS_FILE}`,
    `(img2img download model fid-inception; --fid_weights or $${FID_WEIGHTS_ENV} to point elsewhere).`,
  ].join('\n');
  const parser = new OptionParser('img2img eval [RESULTS_DIR] [--real DIR --fake DIR]', description);
  parser.addArgument('--real', { type: 'str', metavar: 'DIR', help: 'folder of real images (with --fake)' });
  parser.addArgument('--fake', { type: 'str', metavar: 'DIR', help: 'folder of generated images (with --real)' });
  parser.addArgument('--metrics', { type: 'str', metavar: 'LIST', help: `comma-separated subset of ${METRICS.join(',')}; omitted: all that apply` });
  parser.addArgument('--json', { type: 'flag', help: 'print the result as JSON' });
  addFidWeightsOption(parser);
  parser.addArgument('--device', { type: 'str', default: 'cpu', help: 'where the Inception runs: cpu, cuda or cuda:N' });
  parser.addArgument('--batch_size', { type: 'int', default: 16, min: 1, help: 'images per Inception forward' });
  parser.addArgument('--ssim_gaussian', { type: 'flag', help: 'SSIM with an 11x11 Gaussian window, sigma 1.5, population covariance' });
  parser.addArgument('--kid_subsets', { type: 'int', default: KID_DEFAULTS.subsets, min: 1, help: 'KID subsets' });
  parser.addArgument('--kid_subset_size', { type: 'int', default: KID_DEFAULTS.subsetSize, min: 2, help: 'KID images per subset (capped at the smaller set)' });
  parser.addArgument('--kid_seed', { type: 'int', default: KID_DEFAULTS.seed, help: 'seed of the KID subsets' });
  parser.addArgument('--no_html', { type: 'flag', help: 'do not add the metrics line to the results folder\'s index.html' });
  return parser;
}

/** One-line summary, as in the table and the index.html line. */
export function formatResult(r: EvaluateResult): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  if (r.l1 !== undefined) rows.push(['L1 (0-255)', r.l1.toFixed(4)]);
  if (r.psnr !== undefined) rows.push(['PSNR (dB)', r.psnr.toFixed(4)]);
  if (r.ssim !== undefined) rows.push(['SSIM', r.ssim.toFixed(6)]);
  if (r.fid !== undefined) rows.push(['FID', r.fid.toFixed(4)]);
  if (r.kid !== undefined) rows.push(['KID', `${r.kid.mean.toExponential(4)} ± ${r.kid.std.toExponential(2)} (${r.kid.subsets} × ${r.kid.subsetSize}, seed ${r.kid.seed})`]);
  return rows;
}

const HTML_MARK = 'img2img-metrics';

/** Puts (or replaces) one `<p class="img2img-metrics">` line at the top of the results page. */
export function addMetricsToIndex(indexFile: string, r: EvaluateResult): void {
  const page = fs.readFileSync(indexFile, 'utf8');
  const text = formatResult(r).map(([k, v]) => `${k}: ${v}`).join(' · ');
  const line = `<p class="${HTML_MARK}">${escapeHtml(`${text} — ${r.images.fake} images`)}</p>`;
  const without = page.replace(new RegExp(`<p class="${HTML_MARK}">.*?</p>`, 's'), '');
  const updated = /<body>/.test(without) ? without.replace('<body>', `<body>${line}`) : line + without;
  writeFileAtomic(indexFile, updated);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function parseMetrics(list: string | null): MetricName[] | undefined {
  if (!list) return undefined;
  const names = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) if (!(METRICS as readonly string[]).includes(n)) throw expected(`a comma-separated subset of ${METRICS.join(',')}`, '--metrics', list);
  return names as MetricName[];
}

async function run(args: string[], io: ToolIO): Promise<number> {
  const { values, positionals } = parseToolArgs(buildParser(), args, { maxPositionals: 1 });
  const real = values.real as string | null, fake = values.fake as string | null;
  const resultsDir = positionals[0];
  if (resultsDir ? real || fake : !(real && fake)) {
    throw expected('a results folder, or --real DIR and --fake DIR', 'img2img eval', resultsDir ?? `--real ${real ?? '(none)'} --fake ${fake ?? '(none)'}`);
  }
  const sets = resultsDir ? resultSets(resultsDir) : folderSets(real!, fake!);
  const result = await evaluateSets(sets, {
    metrics: parseMetrics(values.metrics as string | null),
    fidWeights: resolveFidWeightsPath(values.fid_weights as string | null),
    device: values.device as string,
    batchSize: values.batch_size as number,
    ssim: values.ssim_gaussian ? { gaussianWeights: true, sigma: 1.5, useSampleCovariance: false } : undefined,
    kid: { subsets: values.kid_subsets as number, subsetSize: values.kid_subset_size as number, seed: values.kid_seed as number },
  });
  if (values.json) io.out(JSON.stringify(result, null, 2));
  else {
    io.out(`real: ${result.real} (${result.images.real} images)`);
    io.out(`fake: ${result.fake} (${result.images.fake} images${result.images.pairs ? `, ${result.images.pairs} pairs` : ''})`);
    const rows = formatResult(result);
    const width = Math.max(6, ...rows.map(([k]) => k.length));
    io.out(`${'metric'.padEnd(width)}  value`);
    for (const [k, v] of rows) io.out(`${k.padEnd(width)}  ${v}`);
  }
  for (const note of result.notes) io.err(`note: ${note}`);
  const index = resultsDir ? path.join(resultsDir, 'index.html') : '';
  if (index && !values.no_html && fs.existsSync(index)) addMetricsToIndex(index, result);
  return 0;
}

/** CLI entry. Exit 0 done, 1 failed, 2 usage. */
export async function evalCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('eval', io, () => run(args, io));
}
