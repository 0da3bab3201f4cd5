// The worker side of bench/comlink.ts. One worker thread serves the same `get` four ways, so the
// four round trips differ only in what carries them:
//   raw      a bare MessagePort echo (the floor: one structured clone each way)
//   direct   the counter actor run by the project's runner (runActor: xstate, correlation ids), its port driven by the bench
//   routed   a second counter actor, its port given to the bench's Supervisor (routing, mailboxes, timeouts)
//   comlink  Comlink.expose over its Node adapter: an object whose get() answers what the actor's get does
import { workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
// The adapter ships as UMD (no exports map): module.exports is the function, though its typings
// declare it as an ES default export.
import nodeAdapter from 'comlink/dist/umd/node-adapter.js';
const nodeEndpoint = nodeAdapter as unknown as typeof nodeAdapter.default;
import { systemClock } from '../src/runtime/clock.ts';
import { createLogger } from '../src/runtime/log.ts';
import { loadActorModule, runActor } from '../src/runtime/runner.ts';
import type { ActorSpec } from '../src/runtime/actor.ts';
import type { Config } from '../src/config/types.ts';

export interface BenchWorkerData {
  module: string;
  raw: MessagePort;
  direct: MessagePort;
  routed: MessagePort;
  comlink: MessagePort;
}

const { module, raw, direct, routed, comlink } = workerData as BenchWorkerData;
const log = createLogger({ level: 'silent', nodeId: 'bench', pretty: false });
const mod = await loadActorModule(module);
const spec = (name: string): ActorSpec => ({ name, module, restart: 'permanent', shutdownMs: 1000 });
const run = (name: string, port: MessagePort) =>
  runActor(mod, { spec: spec(name), port, config: {} as Config, clock: systemClock, log, placement: 'thread' });

raw.on('message', (m: { id: number; busyMs?: number }) => {
  // Keeps this thread busy (the bench then kills it with calls queued behind).
  if (m.busyMs) { const end = Date.now() + m.busyMs; while (Date.now() < end); return; }
  raw.postMessage({ id: m.id, value: { n: 0, seen: [] } });
});

const state = { n: 0, seen: [] as string[] };
Comlink.expose({ get: () => ({ n: state.n, seen: state.seen }) }, nodeEndpoint(comlink as unknown as Parameters<typeof nodeEndpoint>[0]));

await Promise.all([run('direct', direct), run('routed', routed)]);
raw.close();
comlink.close();
process.exit(0);
