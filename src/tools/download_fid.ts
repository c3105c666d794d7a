/**
 * `img2img download model fid-inception`: pytorch-fid's pt_inception-2015-12-05-6726825d.pth into
 * <checkpoints_dir>/fid_inception/, where `img2img eval` looks for it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sniffCheckpointFormat } from '../checkpoint/sniff';
import { FID_WEIGHTS_FILE, FID_WEIGHTS_FOLDER } from '../metrics/fid_weights_location';
import { fidInceptionUrl } from './catalog';
import { downloadFile } from './http_download';
import { PROCESS_IO, ToolIO } from './tool_args';

export interface FidDownloadSettings {
  mirrorFlag: string | null;
  checkpointsDir: string;
  retries: number;
  timeoutMs: number;
  retryDelayMs?: number;
}

/** Downloads the weights (kept when already there); returns the file. */
export async function downloadFidInception(settings: FidDownloadSettings, io: ToolIO = PROCESS_IO): Promise<string> {
  const file = path.join(settings.checkpointsDir, FID_WEIGHTS_FOLDER, FID_WEIGHTS_FILE);
  if (fs.existsSync(file)) {
    io.out(`${file} is already there`);
    return file;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const url = fidInceptionUrl(FID_WEIGHTS_FILE, settings.mirrorFlag);
  io.out(`downloading ${url}`);
  await downloadFile(url, file, {
    progress: io.progress, retries: settings.retries, timeoutMs: settings.timeoutMs, retryDelayMs: settings.retryDelayMs,
    verify: (part) => {
      try {
        sniffCheckpointFormat(part, url);
      } catch (err) {
        throw new Error(`${url} did not send a PyTorch checkpoint: ${(err as Error).message}`);
      }
    },
  });
  io.out(`fid-inception: ${file} (pytorch-fid's FID Inception v3; used by img2img eval for FID and KID)`);
  return file;
}
