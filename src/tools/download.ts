/**
 * `img2img download dataset <name>` and `img2img download model <name>`: the reference's download scripts
 * (datasets/download_{pix2pix,cyclegan}_dataset.sh, scripts/download_{pix2pix,cyclegan}_model.sh) in one
 * command, with the same layout — `./datasets/<name>/…` and `./checkpoints/<name>_pretrained/latest_net_G.pth` —
 * plus what the shell scripts lack: resumable downloads, checked archives, and a sidecar
 * `latest_net_G.json` that records the generator's architecture so `img2img test` needs no extra flags.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CheckpointInfo } from '../checkpoint/network_checkpoint';
import { readStateDictRaw } from '../checkpoint';
import { sniffCheckpointFormat } from '../checkpoint/sniff';
import { expected, OptionError } from '../options/option_errors';
import { OptionParser, OptionValues } from '../options/option_parser';
import { writeFileAtomic } from '../util/atomic_write';
import { ArchiveError, checkArchiveIntegrity, extractArchive, isTemporarySiblingOf } from '../util/archive';
import {
  DATASET_KINDS, DatasetEntry, DatasetKind, DEFAULT_MIRROR, describeDatasets, describeModels, findDataset, findModel,
  FID_INCEPTION_MODEL, fidInceptionUrl, MIRROR_ENV, ModelEntry, resolveMirror,
} from './catalog';
import { FID_WEIGHTS_FILE, FID_WEIGHTS_FOLDER } from '../metrics/fid_weights_location';
import { DownloadError, downloadFile, formatBytes, sha256OfFile } from '../util/http_download';
import { parseToolArgs, plural, PROCESS_IO, runTool, ToolIO } from './tool_args';

const WHAT = ['dataset', 'model'] as const;
type What = (typeof WHAT)[number];

function buildParser(): OptionParser {
  const description = [
    'Downloads one of the reference\'s published datasets or pretrained generators.',
    '',
    describeDatasets(),
    describeModels(),
    `  for img2img eval: ${FID_INCEPTION_MODEL} (pytorch-fid's FID Inception weights, from GitHub; --mirror: <URL>/fid_weights/<file>)`,
    '  refused: cityscapes (its license does not allow redistribution)',
    '',
    'facades and maps are published both as pix2pix datasets (aligned A|B pairs) and as CycleGAN datasets',
    '(trainA/trainB...); sat2map, map2sat and facades_label2photo both as pix2pix and as CycleGAN generators.',
    'Those names need --kind; the others do not. Both kinds of a name land in the same folder, as upstream.',
    '',
    'Datasets are extracted to <datasets_dir>/<name>/ (the archive is deleted afterwards unless --keep_archive);',
    'models are saved as <checkpoints_dir>/<name>_pretrained/latest_net_G.pth with latest_net_G.json describing',
    'the generator. An interrupted download resumes from its .part file when run again. An existing',
    '<datasets_dir>/<name> is never overwritten; a model already downloaded is kept.',
    `The server is ${DEFAULT_MIRROR}; --mirror or $${MIRROR_ENV} replace it (same paths below it).`,
    'Every download is checked before it is kept: archives are read to their end (gzip CRC-32 and length, zip',
    'directory), and the SHA-256 is compared with the catalogue\'s. No true SHA-256 of the published files is known',
    'to this release, so none is checked unless --sha256 gives one; --no_checksum skips the comparison.',
  ].join('\n');
  const parser = new OptionParser('img2img download dataset|model <name>', description);
  parser.addArgument('--kind', { type: 'str', choices: DATASET_KINDS, metavar: 'KIND', help: 'pix2pix or cyclegan; required for names published as both' });
  parser.addArgument('--mirror', { type: 'str', metavar: 'URL', help: `base URL instead of ${DEFAULT_MIRROR} (also $${MIRROR_ENV})` });
  parser.addArgument('--datasets_dir', { type: 'str', default: './datasets', metavar: 'DIR', help: 'where datasets are extracted' });
  parser.addArgument('--checkpoints_dir', { type: 'str', default: './checkpoints', metavar: 'DIR', help: 'where pretrained models are saved' });
  parser.addArgument('--keep_archive', { type: 'flag', help: 'keep the downloaded .zip/.tar.gz after extracting it' });
  parser.addArgument('--retries', { type: 'int', default: 3, min: 0, help: 'automatic resumes when the connection drops' });
  parser.addArgument('--sha256', { type: 'str', metavar: 'HEX', help: 'the SHA-256 the downloaded file must have (instead of the catalogue\'s)' });
  parser.addArgument('--no_checksum', { type: 'flag', help: 'do not compare the SHA-256 of the download' });
  parser.addArgument('--timeout', { type: 'float', default: 60, min: 1, metavar: 'SECONDS', help: 'give up on a silent connection after this long' });
  return parser;
}

interface DownloadSettings {
  mirror: string;
  kind: DatasetKind | null;
  datasetsDir: string;
  checkpointsDir: string;
  keepArchive: boolean;
  retries: number;
  timeoutMs: number;
  /** The SHA-256 to check instead of the catalogue's (null: the catalogue's). */
  sha256?: string | null;
  /** --no_checksum: no SHA-256 comparison at all. */
  noChecksum?: boolean;
  /** Wait before the first automatic retry (tests shorten it). */
  retryDelayMs?: number;
}

function settingsFrom(values: OptionValues): DownloadSettings {
  return {
    mirror: resolveMirror(values.mirror as string | null),
    kind: (values.kind as DatasetKind | null) ?? null,
    datasetsDir: values.datasets_dir as string,
    checkpointsDir: values.checkpoints_dir as string,
    keepArchive: values.keep_archive as boolean,
    retries: values.retries as number,
    timeoutMs: (values.timeout as number) * 1000,
    sha256: checkedSha256(values.sha256 as string | null),
    noChecksum: values.no_checksum as boolean,
  };
}

function checkedSha256(value: string | null): string | null {
  if (value === null || value === undefined) return null;
  if (!/^[0-9a-f]{64}$/i.test(value)) throw expected('64 hexadecimal digits (a SHA-256)', '--sha256', value);
  return value.toLowerCase();
}

/** The hash a download must have, or null with a line saying why it is not checked. */
function expectedSha256(entry: { url: string; sha256: string | null }, settings: DownloadSettings, io: ToolIO): string | null {
  if (settings.noChecksum) {
    io.out(`--no_checksum: the SHA-256 of ${entry.url} is not checked`);
    return null;
  }
  const hash = settings.sha256 ?? entry.sha256;
  if (!hash) io.out(`no true SHA-256 of ${entry.url} is known to this release: the download is not compared with one (--sha256 HEX checks one)`);
  return hash;
}

/** A downloaded checkpoint is kept only when whole and undamaged: every entry's CRC-32, every tensor within its storage. */
function verifyCheckpoint(url: string): (part: string) => void {
  return (part) => {
    try {
      sniffCheckpointFormat(part, url);
      readStateDictRaw(part);
    } catch (err) {
      if (err instanceof Error) err.message = `${url} did not send a PyTorch checkpoint: ${err.message}`;
      throw err; // keeps its code (ERR_IMG2IMG_CHECKPOINT)
    }
  };
}

/**
 * `img2img download model fid-inception`: pytorch-fid's weights into <checkpoints_dir>/fid_inception/, where
 * `img2img eval` looks for them (kept when already there). Checked as every model download is.
 */
async function downloadFidInception(settings: DownloadSettings, mirrorFlag: string | null, io: ToolIO): Promise<string> {
  const file = path.join(settings.checkpointsDir, FID_WEIGHTS_FOLDER, FID_WEIGHTS_FILE);
  if (fs.existsSync(file)) {
    io.out(`${file} is already there`);
    return file;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const url = fidInceptionUrl(FID_WEIGHTS_FILE, mirrorFlag);
  io.out(`downloading ${url}`);
  const sha256 = expectedSha256({ url, sha256: null }, settings, io);
  await downloadFile(url, file, { ...transferOptions(settings, io), sha256, verify: verifyCheckpoint(url) });
  io.out(`fid-inception: ${file} (pytorch-fid's FID Inception v3; used by img2img eval for FID and KID)`);
  return file;
}

/** The download options both kinds of download share (progress, retries, timeouts). */
function transferOptions(settings: DownloadSettings, io: ToolIO) {
  return { progress: io.progress, retries: settings.retries, timeoutMs: settings.timeoutMs, retryDelayMs: settings.retryDelayMs };
}

/** Removes extraction folders left by a run that was killed (hidden siblings of the target; .<name>.download from older releases). */
function removeStaleExtractions(datasetsDir: string, name: string): void {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(datasetsDir);
  } catch {
    return;
  }
  const legacy = `.${name}.download`;
  for (const entry of entries) {
    if (entry === legacy || isTemporarySiblingOf(legacy, entry) || isTemporarySiblingOf(path.join(datasetsDir, name), entry)) {
      fs.rmSync(path.join(datasetsDir, entry), { recursive: true, force: true });
    }
  }
}

/** Removes `folder` and its parents up to `created` (what mkdir -p made) while they are empty. */
function removeEmptyFolders(folder: string, created: string | undefined): void {
  if (!created) return;
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    try {
      if (fs.readdirSync(dir).length > 0) return;
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === path.resolve(created) || path.dirname(dir) === dir) return;
  }
}

/** What the next command would be, so a new user can go on from the download. */
function nextStep(entry: DatasetEntry, target: string): string {
  if (entry.kind === 'pix2pix') {
    return `train with: img2img train --dataroot ${target} --name ${entry.name}_pix2pix --model pix2pix --direction BtoA`;
  }
  if (entry.name === 'mini_pix2pix') return `train with: img2img train --dataroot ${target} --name mini_pix2pix --model pix2pix --direction BtoA`;
  if (entry.name === 'mini_colorization') return `train with: img2img train --dataroot ${target} --name mini_colorization --model colorization`;
  return `train with: img2img train --dataroot ${target} --name ${entry.name}_cyclegan --model cycle_gan`;
}

/** Downloads and extracts one dataset into <datasetsDir>/<name>. Returns the folder. */
export async function downloadDataset(entry: DatasetEntry, settings: DownloadSettings, io: ToolIO = PROCESS_IO): Promise<string> {
  const target = path.join(settings.datasetsDir, entry.name);
  if (fs.existsSync(target)) {
    throw new Error(
      `${target} already exists; remove it to download the ${entry.kind} '${entry.name}' dataset again, ` +
        'or choose another folder with --datasets_dir',
    );
  }
  const created = fs.mkdirSync(settings.datasetsDir, { recursive: true });
  const archive = path.join(settings.datasetsDir, entry.archiveName);
  const expectedFormat = entry.kind === 'pix2pix' ? 'tar.gz' : 'zip';
  if (fs.existsSync(archive)) {
    io.out(`using ${archive}, downloaded before`);
    const sha256 = expectedSha256(entry, settings, io);
    const actual = sha256 ? await sha256OfFile(archive) : null;
    if (sha256 && actual !== sha256) {
      throw new DownloadError(`Expected SHA-256 ${sha256} for ${archive} but received ${actual}; delete it to download it again`, entry.url, false);
    }
  } else {
    io.out(`downloading ${entry.url}`);
    const sha256 = expectedSha256(entry, settings, io);
    try {
      await downloadFile(entry.url, archive, {
        ...transferOptions(settings, io),
        sha256,
        verify: async (part) => {
          const format = await checkArchiveIntegrity(part);
          if (format !== expectedFormat && !(expectedFormat === 'tar.gz' && format === 'tar')) {
            throw new ArchiveError(entry.url, `is a ${format} archive, but a ${expectedFormat} was expected`);
          }
        },
      });
    } catch (err) {
      removeEmptyFolders(settings.datasetsDir, created); // a .part to resume from keeps them
      throw err;
    }
  }
  removeStaleExtractions(settings.datasetsDir, entry.name);
  // the archive's single top folder (<name>/ upstream) becomes the target; its links are checked against it
  let summary;
  try {
    summary = await extractArchive(archive, target, { unwrapSingleFolder: true });
  } catch (err) {
    if (err instanceof ArchiveError) {
      err.message = `${err.message}; nothing was extracted (the archive is kept at ${archive})`;
    }
    throw err;
  }
  if (!settings.keepArchive) fs.rmSync(archive, { force: true });
  io.out(`${entry.name}: ${plural(summary.files, 'file')} (${formatBytes(summary.bytes)}) in ${target} — ${entry.layout}`);
  if (summary.skipped.length) io.out(`  skipped ${plural(summary.skipped.length, 'macOS metadata entry', 'macOS metadata entries')} (__MACOSX/, ._*)`);
  io.out(nextStep(entry, target));
  return target;
}

/** The sidecar written next to a pretrained generator: what `img2img test` reads to rebuild it. */
export function pretrainedSidecar(entry: ModelEntry): CheckpointInfo {
  return {
    format: 'torch-img2img',
    version: 1,
    network: { ...entry.network },
    context: { model: entry.kind === 'cyclegan' ? 'test' : 'pix2pix', source: entry.url },
  };
}

function readSidecar(file: string): CheckpointInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointInfo;
    return info && info.format === 'torch-img2img' && info.network ? info : null;
  } catch {
    return null;
  }
}

/** Downloads one pretrained generator to <checkpointsDir>/<name>_pretrained/latest_net_G.pth (+ .json). */
export async function downloadModel(entry: ModelEntry, settings: DownloadSettings, io: ToolIO = PROCESS_IO): Promise<string> {
  const folder = path.join(settings.checkpointsDir, `${entry.name}_pretrained`);
  const file = path.join(folder, 'latest_net_G.pth');
  const sidecar = path.join(folder, 'latest_net_G.json');
  const created = fs.mkdirSync(folder, { recursive: true });
  if (fs.existsSync(file)) {
    const existing = readSidecar(sidecar);
    if (existing && JSON.stringify(existing.network) !== JSON.stringify(entry.network)) {
      throw new Error(
        `${file} is already there but holds another generator (${existing.network.arch}, ${existing.network.norm} norm, ` +
          `from ${String(existing.context?.source ?? 'unknown')}); remove ${folder} to download the ${entry.kind} '${entry.name}' model`,
      );
    }
    io.out(`${file} is already there`);
  } else {
    io.out(`downloading ${entry.url}`);
    const sha256 = expectedSha256(entry, settings, io);
    try {
      await downloadFile(entry.url, file, { ...transferOptions(settings, io), sha256, verify: verifyCheckpoint(entry.url) });
    } catch (err) {
      removeEmptyFolders(folder, created); // a .part to resume from keeps them
      throw err;
    }
  }
  writeFileAtomic(sidecar, JSON.stringify(pretrainedSidecar(entry), null, 2) + '\n');
  const d = entry.network;
  io.out(`${entry.name}: ${file} (${d.arch}, ${d.norm} norm${d.useDropout ? ', dropout' : ''}; described in ${path.basename(sidecar)})`);
  io.out(`use with: ${entry.usage.replace('<folder of images>', './datasets/<dataset>/testA')}`);
  return file;
}

async function run(args: string[], io: ToolIO): Promise<number> {
  const parser = buildParser();
  const { values, positionals } = parseToolArgs(parser, args, { maxPositionals: 2 });
  const [what, name] = positionals;
  if (!what) throw expected('dataset or model', 'img2img download', undefined, 'usage: img2img download dataset|model <name>');
  if (!(WHAT as readonly string[]).includes(what)) throw expected('dataset or model', 'img2img download', what);
  if (!name) {
    const list = what === 'dataset' ? describeDatasets() : describeModels();
    throw new OptionError(`Expected a ${what} name for download ${what} <name> but received nothing; valid names:\n${list}`, '<name>');
  }
  const settings = settingsFrom(values);
  if (what === 'model' && name === FID_INCEPTION_MODEL) {
    await downloadFidInception(settings, values.mirror as string | null, io);
    return 0;
  }
  if ((what as What) === 'dataset') await downloadDataset(findDataset(name, settings.kind, settings.mirror), settings, io);
  else await downloadModel(findModel(name, settings.kind, settings.mirror), settings, io);
  return 0;
}

/** CLI entry: `img2img download dataset|model <name> [--kind K] [--mirror URL] …`. Exit 0 done, 1 failed, 2 usage. */
export async function downloadCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('download', io, () => run(args, io));
}
