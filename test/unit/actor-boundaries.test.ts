// An actor reaches another only through that actor's public protocol, its `messages.ts`: the
// requests it answers, the events it takes and emits, and what goes with them (types, the
// errors it answers with, constants an asker sizes its timeouts by). This test reads every
// import under src/actors/<actor>/ and fails on one that reaches into another actor's other
// files (its machine, engine, helpers), which would couple the two and load one's internals
// (a worker pool, a model) wherever the other runs. Code two actors share and that is not
// protocol (the orchestrator's heuristics and metrics gathering) lives outside src/actors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ACTORS = fileURLToPath(new URL('../../src/actors/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative module specifier of a file: static imports and re-exports, and dynamic import(). */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const re of [/\bfrom\s+['"](\.[^'"]+)['"]/g, /\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g, /^\s*import\s+['"](\.[^'"]+)['"]/gm]) {
    for (const m of text.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

/** The actor a path under src/actors belongs to, and the path inside it. */
const owner = (path: string) => {
  const [actor, ...rest] = relative(ACTORS, path).split(sep);
  return { actor: actor!, file: rest.join('/') };
};

function crossings(): Array<{ from: string; to: string }> {
  const out: Array<{ from: string; to: string }> = [];
  for (const file of sources(ACTORS)) {
    const me = owner(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const rel = relative(ACTORS, target);
      if (rel.startsWith('..')) continue; // outside src/actors: runtime, protocol, config...
      const them = owner(target);
      if (them.actor === me.actor || them.file === 'messages.ts') continue;
      out.push({ from: `${me.actor}/${me.file}`, to: `${them.actor}/${them.file}` });
    }
  }
  return out;
}

describe('actor boundaries', () => {
  it('finds imports of every kind (so a crossing cannot hide)', () => {
    assert.deepEqual(specifiers([
      "import { a } from '../x/engine.ts';",
      "import type { B } from \"../y/machine.ts\";",
      "export { c } from './own.ts';",
      "const m = await import('../z/worker.ts');",
      "import '../w/side-effect.ts';",
      "import { setup } from 'xstate';",
    ].join('\n')).sort(), ['../w/side-effect.ts', '../x/engine.ts', '../y/machine.ts', '../z/worker.ts', './own.ts']);
  });

  it('an actor imports another actor only through its messages.ts', () => {
    const found = [...new Set(crossings().map(({ from, to }) => `${from} → ${to}`))];
    assert.deepEqual(found, [], `import these through the other actor's messages.ts:\n${found.join('\n')}`);
  });
});
