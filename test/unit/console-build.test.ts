// The built console committed in console/dist is what its sources build to: a fresh build with
// the pinned esbuild into a temporary directory gives the same bytes, file for file. esbuild does
// not type-check, so the console's own TypeScript project (DOM types, JSX) is checked here too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CONSOLE_DIR } from '../../src/actors/api/server.ts';

const files = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();

const root = new URL('../..', import.meta.url).pathname;

describe('console build', () => {
  it('console/src type-checks (tsc -p console)', () => {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', join(root, 'console')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('console/dist matches a fresh build of console/src (run npm run build:console after editing it)', () => {
    const out = mkdtempSync(join(tmpdir(), 'mvp-console-build-'));
    const r = spawnSync(process.execPath, [join(root, 'scripts/build-console.js'), out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(files(out), files(CONSOLE_DIR));
    for (const f of files(out)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(CONSOLE_DIR, f))), `${f} differs from a fresh build`);
  });
});
