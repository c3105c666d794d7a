// The loaded native module, shared by every src/ file (loading happens once, on first use).
import * as os from 'os';
import { loadBinding, NativeBinding } from '../binding';

let binding: NativeBinding | null = null;

export function native(): NativeBinding {
  if (!binding) {
    binding = loadBinding();
    // libtorch may default to fewer threads than cores on VMs; use every core unless the user chose
    // (IMG2IMG_THREADS, OMP_NUM_THREADS, or setNumThreads/--threads later).
    const fromEnv = Number(process.env.IMG2IMG_THREADS || process.env.OMP_NUM_THREADS || 0);
    binding.setNumThreads(fromEnv > 0 ? Math.floor(fromEnv) : Math.max(1, os.cpus().length));
    // Sub-pixel ConvTranspose2d (exact rewrite, used from 32x32 inputs up; docs/performance.md): on unless
    // IMG2IMG_FAST_DECONV=0.
    binding.setFastConvTranspose(process.env.IMG2IMG_FAST_DECONV !== '0');
    // The rewrites of runtime.setFastPath: on unless IMG2IMG_WINOGRAD=0 / IMG2IMG_WINOGRAD_TRAIN=0 /
    // IMG2IMG_PHASE_CONV=0 / IMG2IMG_BF16_BLOCK=0.
    binding.setFastPath('winograd', process.env.IMG2IMG_WINOGRAD !== '0');
    binding.setFastPath('winogradTrain', process.env.IMG2IMG_WINOGRAD_TRAIN !== '0');
    binding.setFastPath('phaseConv', process.env.IMG2IMG_PHASE_CONV !== '0');
    binding.setFastPath('bf16Block', process.env.IMG2IMG_BF16_BLOCK !== '0');
  }
  return binding;
}
