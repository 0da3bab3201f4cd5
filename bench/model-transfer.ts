// Model transfer over /mvp/model/1.0.0 on loopback against a plain `cp` of the same file on the
// same disk. Real nodes in this process (createNode, TCP on 127.0.0.1), three sources sharing a
// generated `small` test model (SmolLM-135M shape, ~80 MB, written by the project's GGUF writer)
// through their real network actors; for each of 1, 2 and 3 sources, a fresh pulling node (the
// other sources blocked) pulls the file by sha256 into a fresh directory: chunks proved against
// the Merkle root, written at their offsets, the sidecar after each chunk, then the whole-file
// sha256, the GGUF validator and the rename — all inside the time. `cp` is timed the same way
// (fresh destination, including its fsync-free close), rounds interleaved so load hits both alike.
// Prints the machine, the load average at start and end, one JSON line per run, then a table of
// medians.
//
//   npm run bench:model-transfer
//   BENCH_ROUNDS=3 (default)
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type MvpNode } from '../src/node/create-node.ts';
import { loadConfig } from '../src/config/index.ts';
import { writeTestModel } from '../src/models/index.ts';
import { hashModelFile } from '../src/models/merkle.ts';
import type { ModelManifest } from '../src/protocol/index.ts';
import type { ServedModel } from '../src/actors/network/messages.ts';
import type { PullProgress } from '../src/actors/network/model-transfer.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(join(os.tmpdir(), 'mvp-bench-transfer-'));
const config = (bootstrap: string[]) => {
  const d = mkdtempSync(join(dir, 'node-'));
  const file = join(d, 'config.toml');
  writeFileSync(file, [
    '[node]', `data_dir = "${d}"`, 'listen_host = "127.0.0.1"', 'listen_port = 0',
    '[network]', 'mdns_enabled = false', `bootstrap_peers = ${JSON.stringify(bootstrap)}`,
    '[api]', 'enabled = false', '[monitoring]', 'log_level = "error"', '',
  ].join('\n'));
  return loadConfig({ file, env: {} });
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const until = async (cond: () => Promise<boolean>, what: string) => {
  const end = Date.now() + 60_000;
  while (Date.now() < end) { if (await cond().catch(() => false)) return; await new Promise((r) => setTimeout(r, 50)); }
  throw new Error(`timed out waiting for ${what}`);
};

console.log(`machine: ${os.cpus()[0]?.model} × ${os.availableParallelism()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}`);
console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const file = (await writeTestModel({ preset: 'small', out: join(dir, 'small.gguf'), seed: 3 })).path;
const h = await hashModelFile(file);
const mib = h.size / 2 ** 20;
console.log(`file: ${mib.toFixed(1)} MiB, ${h.tree.leaves.length} chunks of 1 MiB, in ${dir}`);
const manifest: ModelManifest = { name: 'small', sha256: h.sha256, params: 1, quantization: 'Q4_0', context_length: 2048, test_model: true, merkle_root: h.tree.root, size: h.size };

const sources: MvpNode[] = [];
let boot: string[] = [];
for (let i = 0; i < 3; i++) {
  const n = await createNode(config(boot), { persistIdentity: false, serveModels: false });
  await n.start();
  await n.supervisor.request('network', { type: 'network.set_models', models: [manifest], files: [{ sha256: h.sha256, path: file }] }, 5000);
  sources.push(n);
  if (i === 0) boot = [(await n.network()).listen[0]!];
}
await until(async () => (await Promise.all(sources.map((s) => s.network()))).every((s) => s.model_transfer.files_ready === 1), 'sources to hash the file');

const results = new Map<string, number[]>([['cp', []], ['1 source', []], ['2 sources', []], ['3 sources', []]]);
for (let round = 0; round < ROUNDS; round++) {
  const dest = join(dir, `cp-${round}.gguf`);
  const t0 = performance.now();
  const cp = spawnSync('cp', [file, dest]);
  if (cp.status !== 0) throw new Error(`cp failed: ${String(cp.stderr)}`);
  const cpS = (performance.now() - t0) / 1000;
  rmSync(dest);
  results.get('cp')!.push(mib / cpS);
  console.log(JSON.stringify({ round, kind: 'cp', seconds: cpS, mib_per_s: mib / cpS }));
  for (const k of [1, 2, 3]) {
    const puller = await createNode(config(boot), { persistIdentity: false, serveModels: false });
    await puller.start();
    await until(async () => (await puller.supervisor.request<ServedModel[]>('network', { type: 'network.models' }, 2000))
      .filter((m) => m.model.sha256 === h.sha256).length === 3, 'the three sources to be known');
    // Sources beyond k are blocked here: they are not asked.
    for (const s of sources.slice(k)) await puller.supervisor.request('network', { type: 'network.block', peer_id: s.peerId }, 5000);
    const into = mkdtempSync(join(dir, 'pulled-'));
    const t1 = performance.now();
    const p = await puller.supervisor.request<PullProgress>('network', { type: 'network.pull', sha256: h.sha256, dir: into }, 600_000);
    const s = (performance.now() - t1) / 1000;
    const used = p.sources.filter((x) => x.chunks > 0).length;
    if (used !== k) throw new Error(`expected ${k} sources to send chunks, ${used} did: ${JSON.stringify(p.sources)}`);
    results.get(k === 1 ? '1 source' : `${k} sources`)!.push(mib / s);
    console.log(JSON.stringify({ round, kind: 'pull', sources: k, seconds: s, mib_per_s: mib / s, chunks_by_source: p.sources.map((x) => x.chunks) }));
    await puller.stop();
    rmSync(into, { recursive: true, force: true });
  }
}
for (const n of sources) await n.stop();
console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('\n| copy | MiB/s (median of ' + ROUNDS + ') | vs cp |\n|---|---|---|');
const cpMedian = median(results.get('cp')!);
for (const [k, xs] of results) console.log(`| ${k} | ${median(xs).toFixed(0)} | ${(median(xs) / cpMedian).toFixed(2)}× |`);
rmSync(dir, { recursive: true, force: true });
