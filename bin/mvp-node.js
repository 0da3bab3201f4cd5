#!/usr/bin/env node
// The `mvp-node` command. It runs the build in dist/ (plain JS, scripts/build.js: made by
// `npm ci` / `npm install` and by `npm start`) when that build is newer than every source file;
// otherwise (no build yet, or a source edited since) it runs the TypeScript sources through
// tsx's loader, which is slower to start but always current. The polyfill is loaded before
// anything imports libp2p.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

function buildIsCurrent() {
  const stamp = new URL('dist/BUILT', root);
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const src = new URL('src/', root);
  for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs > built) return false;
  }
  return true;
}

if (process.env.MVP_NODE_FROM_SOURCE !== '1' && buildIsCurrent()) {
  await import('../dist/src/polyfill.js');
  await import('../dist/src/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/polyfill.ts');
  await import('../src/cli/main.ts');
}
