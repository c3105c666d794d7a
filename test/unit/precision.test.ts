// The precision check (src/precision.ts) and the dynamic loss scaler's arithmetic (src/loss_scaler.ts): pure
// TypeScript, no libtorch needed; the native halves are in test/unit/native/mixed_precision.test.ts.
import * as assert from 'assert';
import { checkPrecision, cpuBf16Support, precisionRefusal } from '../../src/precision';
import { DynamicLossScaler } from '../../src/loss_scaler';
import { OptionError } from '../../src/options/option_errors';

const ZEN4 = 'processor\t: 0\nmodel name\t: AMD EPYC 9654 96-Core Processor\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_bf16 avx512vl\n';
const SAPPHIRE = 'model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: avx2 avx512f amx_bf16 amx_tile amx_int8\n';
const AVX2 = 'model name\t: AMD EPYC 7763 64-Core Processor\nflags\t\t: fpu sse2 avx avx2 fma\n';

describe('precision: native bf16 detection and the refusal', () => {
  it('reads avx512_bf16 / amx_bf16 from /proc/cpuinfo text', () => {
    assert.deepStrictEqual(cpuBf16Support(ZEN4), { native: true, flags: ['avx512_bf16'], model: 'AMD EPYC 9654 96-Core Processor', known: true });
    assert.deepStrictEqual(cpuBf16Support(SAPPHIRE).flags, ['amx_bf16']);
    assert.strictEqual(cpuBf16Support(AVX2).native, false);
    assert.strictEqual(cpuBf16Support(null).known, false);
    // This machine's own answer has the same shape (its value depends on the CPU).
    assert.strictEqual(typeof cpuBf16Support().native, 'boolean');
  });

  it('refuses emulated bf16 on CPU with the reason, unless forced; fp16 on CPU always; nothing on CUDA', () => {
    const avx2 = cpuBf16Support(AVX2);
    const why = precisionRefusal('bf16', 'cpu', { cpu: avx2 });
    assert.ok(why && /avx512_bf16/.test(why) && /emulate/.test(why) && /slower than fp32/.test(why) && /--force_precision/.test(why), String(why));
    assert.strictEqual(precisionRefusal('bf16', 'cpu', { cpu: avx2, force: true }), null);
    assert.strictEqual(precisionRefusal('bf16', 'cpu', { cpu: cpuBf16Support(ZEN4) }), null);
    const fp16 = precisionRefusal('fp16', 'cpu', { cpu: cpuBf16Support(ZEN4), force: true });
    assert.ok(fp16 && /only bf16/.test(fp16), String(fp16));
    for (const p of ['fp32', 'bf16', 'fp16'] as const) assert.strictEqual(precisionRefusal(p, 'cuda:0', { cpu: avx2 }), null);
    assert.strictEqual(precisionRefusal('fp32', 'cpu', { cpu: avx2 }), null);
  });

  it('checkPrecision: unknown names and refusals are OptionErrors naming the option', () => {
    assert.throws(() => checkPrecision('fp8', 'cpu'), (e: OptionError) => e instanceof OptionError && e.option === 'precision' &&
      /Expected one of fp32, bf16, fp16 for precision but received 'fp8'/.test(e.message));
    assert.throws(() => checkPrecision('fp16', 'cpu', { option: '--precision' }), (e: OptionError) => e.option === '--precision' && /refused on cpu/.test(e.message));
    assert.strictEqual(checkPrecision(undefined, 'cpu'), 'fp32');
    assert.strictEqual(checkPrecision('bf16', 'cpu', { force: true }), 'bf16');
  });
});

describe('DynamicLossScaler: GradScaler arithmetic', () => {
  it('starts at 2^16, backs off by half on an overflow, grows by 2 after growthInterval clean steps', () => {
    const s = new DynamicLossScaler({ growthInterval: 3 });
    assert.strictEqual(s.scale, 65536);
    s.update(false); s.update(false);
    assert.strictEqual(s.scale, 65536);
    s.update(false);
    assert.strictEqual(s.scale, 131072);
    assert.strictEqual(s.growthTracker, 0);
    s.update(false); s.update(true);   // an overflow resets the count of clean steps
    assert.strictEqual(s.scale, 65536);
    assert.strictEqual(s.growthTracker, 0);
    assert.strictEqual(s.skippedSteps, 1);
    s.update(false); s.update(false);
    assert.strictEqual(s.scale, 65536);
    const copy = new DynamicLossScaler();
    copy.loadState(s.state());
    assert.deepStrictEqual(copy.state(), { scale: 65536, growthTracker: 2 });
  });

  it('rejects settings that would never recover', () => {
    assert.throws(() => new DynamicLossScaler({ backoffFactor: 1 }), /backoffFactor/);
    assert.throws(() => new DynamicLossScaler({ growthInterval: 0 }), /growthInterval/);
  });
});
