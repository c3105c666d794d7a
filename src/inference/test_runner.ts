// `img2img test`: the reference's test.py — translate the test split with a trained model and write
// results/<name>/<phase>_<epoch>/index.html with images/<stem>_<label>.png.
import * as path from 'path';
import { createDataLoader } from '../data/data_loader';
import { createDataset } from '../data/create_dataset';
import { encodePng } from '../data/image_io';
import { resizeBicubic } from '../data/pil_resize';
import { createModel, findModelPlugin } from '../models';
import type { Options } from '../options/parse_options';
import { parseOptionsWithParser } from '../plugins';
import { saveOptions } from '../options/print_options';
import { manualSeed, resolveDevice, setNumThreads } from '../runtime';
import { writeFileAtomic } from '../util/atomic_write';
import { HTML } from '../util/html';
import { PythonRandom } from '../util/python_random';
import { visualToImage } from './visuals';
import { applyCheckpointDescription } from './self_describing';

/** What runTest wrote: the results page's folder, the number of images and the image files. */
export interface TestResult { webDir: string; images: number; files: string[] }

/** Runs test.py's loop; argv is the test command line. */
export async function runTest(argv: readonly string[] | string, log: (line: string) => void = (l) => console.log(l)): Promise<TestResult> {
  const words = typeof argv === 'string' ? argv.split(/\s+/).filter(Boolean) : argv;
  const { opt, parser } = parseOptionsWithParser(words, { isTrain: false });
  // test.py hard-codes these.
  opt.num_threads = 0; opt.batch_size = 1; opt.serial_batches = true; opt.no_flip = true;
  setNumThreads(opt.threads);
  opt.device = resolveDevice(opt.device);
  manualSeed(opt.seed);
  for (const name of findModelPlugin(opt.model).describingNetworks(opt)) for (const note of applyCheckpointDescription(opt, words, name)) log(note);
  saveOptions(opt, parser);
  const dataset = createDataset(opt, new PythonRandom(opt.seed));
  const loader = createDataLoader(opt, dataset);
  const model = createModel(opt);
  const webDir = path.join(opt.results_dir!, opt.name, `${opt.phase}_${opt.epoch}${opt.load_iter > 0 ? `_iter${opt.load_iter}` : ''}`);
  const page = new HTML(webDir, `Experiment = ${opt.name}, Phase = ${opt.phase}, Epoch = ${opt.epoch}`);
  // The reference's default is train mode (BatchNorm batch statistics, dropout on), as in the pix2pix paper.
  if (opt.eval) model.eval();
  log(`testing ${Math.min(loader.length, opt.num_test!)} images in ${opt.eval ? 'eval' : 'train'} mode (${opt.eval ? 'running BatchNorm statistics, no dropout' : 'the reference default: batch statistics and dropout active; --eval for deterministic outputs'})`);
  const files: string[] = [];
  let i = 0;
  try {
    for await (const batch of loader) {
      if (i >= opt.num_test!) break;
      model.setInput({ A: { data: batch.A, shape: batch.shapeA }, B: batch.B ? { data: batch.B, shape: batch.shapeB! } : undefined, A_paths: batch.A_paths, B_paths: batch.B_paths });
      model.test();
      const imgPath = model.getImagePaths();
      if (i % 5 === 0) log(`processing (${String(i).padStart(4, '0')})-th image... ${JSON.stringify(imgPath)}`);
      files.push(...saveImages(page, model.getCurrentVisuals(), imgPath[0], opt));
      i++;
    }
  } finally {
    await loader.close?.();
    model.dispose();
  }
  page.save();
  return { webDir, images: i, files };
}

/** save_images of the reference: one header and one table row per input image. */
function saveImages(page: HTML, visuals: Map<string, import('../tensor').Tensor>, imagePath: string, opt: Options): string[] {
  const stem = path.basename(imagePath, path.extname(imagePath));
  page.addHeader(stem);
  const ims: string[] = [], txts: string[] = [], files: string[] = [];
  for (const [label, t] of visuals) {
    // Single-channel outputs are saved as single-channel PNGs (the reference tiles them to RGB).
    let img = visualToImage(t, { singleChannel: true });
    const ar = opt.aspect_ratio ?? 1;
    // The reference swaps width and height here (harmless for square images only): keep the width and scale the
    // height by aspect_ratio (> 1), or keep the height and widen by 1/aspect_ratio (< 1), for any shape.
    if (ar > 1) img = resizeBicubic(img, img.width, Math.trunc(img.height * ar));
    else if (ar < 1) img = resizeBicubic(img, Math.trunc(img.width / ar), img.height);
    const name = `${stem}_${label}.png`;
    const file = path.join(page.imageDir, name);
    writeFileAtomic(file, encodePng(img));
    ims.push(name); txts.push(label); files.push(file);
  }
  page.addImages(ims, txts, ims, opt.display_winsize);
  return files;
}
