// Test models are generated once per machine and version, then shared by every test file:
// os.tmpdir()/mvp-node-test-models/<preset>-v<generator version>-s<seed>.gguf.
import { access, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_MODEL_GENERATOR_VERSION, writeTestModel, type TestModelPreset } from '../../src/models/make-test.ts';

export const TEST_MODELS_DIR = join(tmpdir(), 'mvp-node-test-models');

const pending = new Map<string, Promise<string>>();

/**
 * Path of a generated test model, written if absent. Safe across parallel test processes:
 * the writer renames a finished temporary file into place.
 */
export function testModelPath(preset: TestModelPreset = 'tiny', seed = 1): Promise<string> {
  const path = join(TEST_MODELS_DIR, `${preset}-v${TEST_MODEL_GENERATOR_VERSION}-s${seed}.gguf`);
  let p = pending.get(path);
  if (!p) {
    p = ensure(path, preset, seed);
    pending.set(path, p);
    p.catch(() => pending.delete(path));
  }
  return p;
}

/** The tiny llama test model (vocab 1024, dim 64, 2 layers): loads in milliseconds. */
export function tinyTestModelPath(): Promise<string> {
  return testModelPath('tiny');
}

async function ensure(path: string, preset: TestModelPreset, seed: number): Promise<string> {
  try {
    await access(path);
    return path;
  } catch {
    await mkdir(TEST_MODELS_DIR, { recursive: true });
    await writeTestModel({ preset, out: path, seed });
    return path;
  }
}
