// Tests that need something of the machine (root, network namespaces, a tool). Outside CI they
// are skipped and say why on stderr; in CI (CI=true) they fail instead, because CI promises to
// run everything: `.ci/run` installs what they need and runs as root.
import { describe, it, type SuiteFn } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';

export const inCI = /^(true|1|yes)$/i.test(process.env.CI ?? '');

/**
 * `describe(name, fn)` when `missing` is undefined. Otherwise, in CI a suite with one failing
 * test that names what is missing; elsewhere a skipped suite, the reason printed.
 */
export function describeNeeding(name: string, missing: string | undefined, fn: SuiteFn): void {
  if (missing === undefined) {
    describe(name, fn);
  } else if (inCI) {
    describe(name, () => {
      it('can run on this machine', () => {
        assert.fail(`${missing}: CI (CI=true) must run "${name}"; run .ci/run as root on Linux`);
      });
    });
  } else {
    process.stderr.write(`skipping "${name}": ${missing} (in CI, with CI=true, this fails instead)\n`);
    describe(name, { skip: missing }, fn);
  }
}

let netns: string | undefined | null = null;

/**
 * Why this process cannot create Linux network namespaces, or undefined when it can: Linux,
 * root, iproute2's `ip`, and a namespace actually created and deleted (a container may forbid it).
 */
export function netnsMissing(): string | undefined {
  if (netns !== null) return netns;
  netns = (() => {
    if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
    if (spawnSync('ip', ['-V']).status !== 0) return 'needs iproute2 (`ip`) to create network namespaces';
    const probe = `mvp-probe-${process.pid}`;
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
      execFileSync('ip', ['netns', 'del', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
      return undefined;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      return `cannot create a network namespace here (\`ip netns add\`: ${stderr || (err as Error).message})`;
    }
  })();
  return netns;
}

/** Why a command is unusable here (`cmd args` must exit 0), or undefined. */
export function commandMissing(cmd: string, args: string[], what: string): string | undefined {
  return spawnSync(cmd, args).status === 0 ? undefined : `needs ${what}`;
}

/**
 * Mounts a small tmpfs at `dir` (a full disk on demand) and returns how to unmount it, or why it
 * cannot be done here: Linux, root, and a mount actually made (a container may forbid it).
 */
export function mountTmpfs(dir: string, bytes: number): { unmount(): void } | string {
  if (process.platform !== 'linux') return `needs Linux tmpfs (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (r.status !== 0) return `cannot mount a tmpfs here (\`mount -t tmpfs\`: ${String(r.stderr).trim()})`;
  return { unmount: () => { spawnSync('umount', [dir]); } };
}
