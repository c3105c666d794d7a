// The loaded native module, shared by every src/ file (loading happens once, on first use).
import { loadBinding, NativeBinding } from '../binding';

let binding: NativeBinding | null = null;

export function native(): NativeBinding {
  if (!binding) binding = loadBinding();
  return binding;
}
