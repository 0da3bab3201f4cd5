// The cost of threaded placement, measured side by side in one run: the same `mvp-node`
// process (bin/mvp-node.js, the default generated test model, TCP on 127.0.0.1) with every
// actor inline against the default placement (every actor but the store on its own worker
// thread). Rounds alternate the two, so a change of machine load hits both alike; the table
// gives medians over the rounds.
//
//   start → ready    spawn → the "Node started" log line, and spawn → GET /health says "ok"
//   idle RSS         the process's resident set (VmRSS, all threads) BENCH_IDLE_MS after ready
//   dispatch 1 token a 1-token job from a light client that has already joined (submit → receipt),
//                    median over BENCH_DISPATCH jobs
//   tokens/s         one job of BENCH_TOKENS tokens through the job path: tokens / (submit → receipt),
//                    and the executor's own rate (receipt: tokens_out / generation_ms)
// and `mvp-node --help`, from the build (dist/) and from the TypeScript sources through tsx.
// Prints the load average at start and end, one JSON line per measurement, then the table.
//
//   npm run bench:runtime
//   BENCH_ROUNDS=3 BENCH_DISPATCH=20 BENCH_TOKENS=256 BENCH_IDLE_MS=5000 BENCH_HELP=5 ... (defaults)
import os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { LightClient } from '../src/client/submit.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DISPATCH = Number(process.env.BENCH_DISPATCH ?? 20);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 256);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const HELP_RUNS = Number(process.env.BENCH_HELP ?? 5);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/mvp-node.js');

type Placement = 'inline' | 'threaded';
const ACTORS = ['network', 'scheduler', 'consensus', 'orchestrator', 'api', 'inference'];

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const round1 = (x: number) => Math.round(x * 10) / 10;
const emit = (o: object) => console.log(JSON.stringify(o));

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Measured { started_ms: number; healthy_ms: number; rss_mib: number; dispatch_ms: number; job_tok_s: number; executor_tok_s: number }

async function measure(placement: Placement, round: number): Promise<Measured> {
  const dir = mkdtempSync(join(os.tmpdir(), 'mvp-bench-runtime-'));
  const cfg = join(dir, 'node.toml');
  // Claims whatever the load average says: a busy benchmark machine must still run the jobs.
  writeFileSync(cfg, ['[executor]', 'max_load_per_core = 1000', '[runtime.placement]',
    ...ACTORS.map((a) => `${a} = "${placement === 'inline' ? 'inline' : 'thread'}"`)].join('\n'));
  const t0 = performance.now();
  const proc = spawn(process.execPath, [BIN, '-c', cfg, '--node-id', 'bench', '--port', '0', '--data-dir', dir],
    { env: { ...process.env, MVP_NODE_MDNS: 'false' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let startedMs = 0;
  let port = 0;
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`node exited (${code}) before it started`)));
    createInterface({ input: proc.stdout! }).on('line', (raw) => {
      let l: { msg?: string; addr?: string };
      try { l = JSON.parse(raw) as typeof l; } catch { return; }
      const m = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\//.exec(String(l.addr ?? ''));
      if (m && !port) port = Number(m[1]);
      if (l.msg?.startsWith('Node started') && !startedMs) { startedMs = performance.now() - t0; resolve(); }
    });
  });
  try {
    await ready;
    const url = (JSON.parse(readFileSync(join(dir, 'bench', 'api.json'), 'utf8')) as { url: string }).url;
    await until(async () => ((await (await fetch(`${url}/health`)).json() as { status: string }).status === 'ok' ? true : undefined), 120_000, 'health ok');
    const healthyMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rss = rssMiB(proc.pid!);
    const client = await LightClient.join({ bootstrap: [`/ip4/127.0.0.1/tcp/${port}`], timeoutMs: 60_000 });
    try {
      const job = (maxTokens: number, seed: number) => client.submit({ prompt: `bench ${round} ${seed}`, maxTokens, temperature: 0, seed, priority: 'normal', timeoutMs: 120_000 });
      await job(1, 1_000_000 + round); // warm-up: the first job pays for lazy set-up on both sides
      const dispatch: number[] = [];
      for (let i = 0; i < DISPATCH; i++) {
        const s = performance.now();
        await job(1, i);
        dispatch.push(performance.now() - s);
      }
      const s = performance.now();
      const r = await job(TOKENS, 1000 + round);
      const wall = performance.now() - s;
      const out = r.receipt.body.tokens_out;
      const gen = r.receipt.body.timings.generation_ms;
      const m: Measured = {
        started_ms: Math.round(startedMs), healthy_ms: Math.round(healthyMs), rss_mib: round1(rss),
        dispatch_ms: round1(median(dispatch)), job_tok_s: round1(out / (wall / 1000)), executor_tok_s: round1(out / (gen / 1000)),
      };
      emit({ placement, round, ...m, tokens_out: out });
      return m;
    } finally {
      await client.close();
    }
  } finally {
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function helpMs(fromSource: boolean): number {
  const times: number[] = [];
  for (let i = 0; i < HELP_RUNS; i++) {
    const s = performance.now();
    execFileSync(process.execPath, [BIN, '--help'], { env: { ...process.env, ...(fromSource ? { MVP_NODE_FROM_SOURCE: '1' } : {}) }, stdio: 'ignore' });
    times.push(performance.now() - s);
  }
  const m = Math.round(median(times));
  emit({ help: fromSource ? 'source (tsx)' : 'build (dist/)', median_ms: m, runs: times.map(Math.round) });
  return m;
}

console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
execFileSync(process.execPath, [join(ROOT, 'scripts/build.js')], { stdio: 'inherit' });
const results: Record<Placement, Measured[]> = { inline: [], threaded: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const p of (round % 2 ? ['inline', 'threaded'] : ['threaded', 'inline']) as Placement[]) results[p].push(await measure(p, round));
}
const helpBuilt = helpMs(false);
const helpSource = helpMs(true);
console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

const row = (p: Placement) => Object.fromEntries((Object.keys(results[p][0]!) as Array<keyof Measured>).map((k) => [k, median(results[p].map((m) => m[k]))]));
const inline = row('inline');
const threaded = row('threaded');
console.table({
  inline, threaded,
  'threaded / inline': Object.fromEntries(Object.keys(inline).map((k) => [k, Math.round((threaded[k]! / inline[k]!) * 100) / 100])),
});
console.table({ '--help': { 'build (dist/) ms': helpBuilt, 'source (tsx) ms': helpSource } });
