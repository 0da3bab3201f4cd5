// Building a supervisor for tests: silent logs, real hosts, the counter fixture actor.
import { fileURLToPath } from 'node:url';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor, type ChildSpec, type Strategy } from '../../src/runtime/supervisor.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { Placement } from '../../src/runtime/actor.ts';
import type { Config } from '../../src/config/types.ts';

export const counterModule = fileURLToPath(new URL('../fixtures/counter-actor.ts', import.meta.url));

export function counter(name: string, placement: Placement, extra: Partial<ChildSpec> = {}): ChildSpec {
  return { name, module: counterModule, restart: 'permanent', shutdownMs: 2000, placement, ...extra };
}

export function testSupervisor(children: ChildSpec[], opts: { strategy?: Strategy; intensity?: number; periodMs?: number; config?: Config } = {}) {
  const logOptions = { level: 'silent' as const, nodeId: 'test', pretty: false };
  const log = createLogger(logOptions);
  const env = { config: opts.config ?? ({} as Config), clock: systemClock, log, logOptions };
  return new Supervisor({
    strategy: opts.strategy ?? 'one_for_one',
    intensity: opts.intensity ?? 3,
    periodMs: opts.periodMs ?? 5000,
    children,
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    clock: systemClock,
    log,
  });
}

export function once<T = unknown>(emitter: { once(ev: string, fn: (e: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, resolve));
}

/** Polls until `cond` holds (errors count as "not yet"), or fails naming what it waited for. */
export async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
