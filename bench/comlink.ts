// Request/reply to an actor on a worker thread: the project's MessagePort protocol against
// Comlink (npm `comlink`, its Node adapter), on the same worker thread in one run. The worker
// (bench/comlink-worker.ts) serves the same small `get` four ways:
//
//   raw      a bare MessagePort echo: the floor, one structured clone each way
//   direct   the counter test actor run by the project's runner (runActor: xstate, correlation
//            ids, timeouts), the bench posting its Down/Up messages itself
//   routed   another counter actor under a real Supervisor (sup.request: addressing, routing,
//            timeouts as coded errors, crash detection)
//   comlink  Comlink.expose / Comlink.wrap over a MessagePort: a proxy call to an object
//
// Requests go one at a time (a round trip each), kinds alternating in blocks so that a change of
// machine load hits all alike. Prints the load average, one JSON line per kind, then a table of
// median / p99 / mean in µs and the median as a multiple of the raw floor. Last, what a call
// does when the worker dies under it: the supervisor's request rejects (actor_down), a Comlink
// call stays pending.
//
//   npm run bench:comlink
//   BENCH_N=5000 BENCH_BLOCK=500 BENCH_WARMUP=500 ... (defaults)
import os from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as Comlink from 'comlink';
// The adapter ships as UMD (no exports map): module.exports is the function, though its typings
// declare it as an ES default export.
import nodeAdapter from 'comlink/dist/umd/node-adapter.js';
const nodeEndpoint = nodeAdapter as unknown as typeof nodeAdapter.default;
import { Supervisor } from '../src/runtime/supervisor.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { createLogger } from '../src/runtime/log.ts';
import { errorCodeOf } from '../src/errors/registry.ts';
import type { ActorSpec, Down, Up } from '../src/runtime/actor.ts';
import type { Host, RunningActor, ActorExit } from '../src/runtime/host.ts';
import type { Config } from '../src/config/types.ts';
import type { BenchWorkerData } from './comlink-worker.ts';

const N = Number(process.env.BENCH_N ?? 5000);
const BLOCK = Number(process.env.BENCH_BLOCK ?? 500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const MODULE = fileURLToPath(new URL('../test/fixtures/counter-actor.ts', import.meta.url));
type Get = { n: number; seen: string[] };
const ep = (p: MessagePort) => nodeEndpoint(p as unknown as Parameters<typeof nodeEndpoint>[0]);

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average at start: ${load()} (${os.cpus().length} cores)`);

const raw = new MessageChannel();
const direct = new MessageChannel();
const routed = new MessageChannel();
const link = new MessageChannel();
const data: BenchWorkerData = { module: MODULE, raw: raw.port2, direct: direct.port2, routed: routed.port2, comlink: link.port2 };
const worker = new Worker(new URL('./comlink-worker.js', import.meta.url), {
  workerData: data, transferList: [raw.port2, direct.port2, routed.port2, link.port2], execArgv: [],
});
const workerExit = new Promise<number>((resolve) => worker.on('exit', resolve));

// raw: id-matched echo.
let rawSeq = 0;
const rawWaiting = new Map<number, (v: Get) => void>();
raw.port1.on('message', (m: { id: number; value: Get }) => { rawWaiting.get(m.id)?.(m.value); rawWaiting.delete(m.id); });
const rawGet = () => new Promise<Get>((resolve) => { const id = ++rawSeq; rawWaiting.set(id, resolve); raw.port1.postMessage({ id }); });

// direct: the runner's own wire, Down requests in, Up replies out.
let directSeq = 0;
const directWaiting = new Map<string, (v: Get) => void>();
const directReady = Promise.withResolvers<void>();
direct.port1.on('message', (m: Up) => {
  if (m.k === 'ready') directReady.resolve();
  if (m.k === 'reply') { directWaiting.get(m.id)?.(m.value as Get); directWaiting.delete(m.id); }
});
const directGet = () => new Promise<Get>((resolve) => {
  const id = `bench#${++directSeq}`;
  directWaiting.set(id, resolve);
  direct.port1.postMessage({ k: 'request', id, from: 'bench', msg: { type: 'get' } } satisfies Down);
});

// routed: a Supervisor whose thread host hands it the port of the actor already running in the
// bench's worker (one start only: the child is temporary, so it is not restarted).
const routedHost: Host = {
  placement: 'thread',
  start(spec: ActorSpec): RunningActor {
    const port = routed.port1;
    const listeners: Array<(m: Up) => void> = [];
    const { promise: exited, resolve } = Promise.withResolvers<ActorExit>();
    port.on('message', (m: Up) => {
      for (const l of listeners) l(m);
      if (m.k === 'stopped') resolve({});
      else if (m.k === 'crashed') resolve({ crashed: m.error });
    });
    void workerExit.then((code) => resolve({ crashed: { name: 'WorkerExit', message: `worker exited with code ${code}` } }));
    return {
      spec, placement: 'thread', exited,
      post: (m) => port.postMessage(m),
      onUp: (fn) => { listeners.push(fn); },
      terminate: async () => { await worker.terminate(); },
    };
  },
};
const log = createLogger({ level: 'silent', nodeId: 'bench', pretty: false });
const sup = new Supervisor({
  strategy: 'one_for_one', intensity: 3, periodMs: 5000, clock: systemClock, log,
  children: [{ name: 'routed', module: MODULE, restart: 'temporary', shutdownMs: 1000, placement: 'thread' }],
  hosts: { thread: routedHost, inline: routedHost },
});
const routedGet = () => sup.request<Get>('routed', { type: 'get' }, 5000);

// comlink: a proxy of the exposed object.
const remote = Comlink.wrap<{ get(): Get }>(ep(link.port1));
const comlinkGet = () => remote.get();

await directReady.promise;
await sup.start();

const kinds = { raw: rawGet, direct: directGet, routed: routedGet, comlink: comlinkGet } as const;
type Kind = keyof typeof kinds;
const samples: Record<Kind, number[]> = { raw: [], direct: [], routed: [], comlink: [] };

for (const get of Object.values(kinds)) for (let i = 0; i < WARMUP; i++) await get();
for (let done = 0; done < N; done += BLOCK) {
  const n = Math.min(BLOCK, N - done);
  for (const [kind, get] of Object.entries(kinds) as Array<[Kind, () => Promise<Get>]>) {
    const xs = samples[kind];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const v = await get();
      xs.push(performance.now() - t0);
      if (typeof v.n !== 'number') throw new Error(`${kind} answered ${JSON.stringify(v)}`);
    }
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => { const s = sorted(xs); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; };
const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;
const rows = (Object.keys(samples) as Kind[]).map((kind) => {
  const xs = samples[kind];
  return { kind, n: xs.length, median_us: us(pct(xs, 50)), p99_us: us(pct(xs, 99)), mean_us: us(xs.reduce((a, b) => a + b, 0) / xs.length) };
});
const floor = rows.find((r) => r.kind === 'raw')!.median_us;
for (const r of rows) console.log(JSON.stringify({ ...r, x_raw: Math.round((r.median_us / floor) * 100) / 100 }));
console.log('\n| path | n | median µs | p99 µs | mean µs | median × raw |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.kind} | ${r.n} | ${r.median_us} | ${r.p99_us} | ${r.mean_us} | ${(r.median_us / floor).toFixed(2)} |`);

// A call in flight when the worker dies: the supervisor notices the exit and fails it with a
// coded error; Comlink has no notion of the other end's death, so its call never settles.
const outcome = (p: Promise<unknown>) => Promise.race([
  p.then(() => 'answered', (err: unknown) => `rejected (${errorCodeOf(err) ?? (err as Error).name})`),
  new Promise<string>((r) => setTimeout(() => r('still pending after 2000 ms'), 2000)),
]);
raw.port1.postMessage({ id: 0, busyMs: 5000 });
const inFlight = { routed: outcome(routedGet()), comlink: outcome(comlinkGet()) };
await new Promise((r) => setTimeout(r, 100));
void worker.terminate();
console.log(`\nworker terminated with a call in flight: routed → ${await inFlight.routed}; comlink → ${await inFlight.comlink}`);
console.log(`after: routed → ${await outcome(routedGet())}; comlink → ${await outcome(comlinkGet())}`);
console.log(`load average at end: ${load()}`);
remote[Comlink.releaseProxy]();
await sup.stop();
process.exit(0);
