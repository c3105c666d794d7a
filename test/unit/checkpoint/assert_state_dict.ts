/** Shared assertion for the checkpoint tests: two state dicts are identical, bit for bit and in order. */
import * as assert from 'assert';
import { RawStateDict } from '../../../src/checkpoint';

/** Asserts equal keys (in order), dtypes, shapes and bytes; names the first tensor that differs. */
export function assertSameStateDict(actual: RawStateDict, expected: RawStateDict, what: string): void {
  assert.deepStrictEqual([...actual.keys()], [...expected.keys()], `${what}: keys or their order differ`);
  for (const [name, tensor] of expected) {
    const got = actual.get(name)!;
    assert.strictEqual(got.dtype, tensor.dtype, `${what}: dtype of ${name}`);
    assert.deepStrictEqual(got.shape, tensor.shape, `${what}: shape of ${name}`);
    assert.ok(got.data.equals(tensor.data), `${what}: bytes of ${name} differ`);
  }
}
