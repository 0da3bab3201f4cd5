// The receipt ledger's write rate on this machine's disk: receipts put into the node's store
// (src/store/) one at a time (each waits for its own fsync: the rate of one client) and by many
// concurrent writers (their receipts share group commits: one fsync per group), against unsynced
// writes (what the disk does without the durability guarantee). Receipts are sealed before the
// clock starts: signing is not the store's cost.
//   npm run bench:store -- [RECEIPTS] [WRITERS]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { sealReceipt, type ReceiptEnvelope } from '../src/protocol/index.ts';
import { openStore } from '../src/store/store.ts';

const N = Number(process.argv[2] ?? 2000);
const WRITERS = Number(process.argv[3] ?? 64);

const key = await generateKeyPair('Ed25519');
const executor = peerIdFromPrivateKey(key).toString();
const receipts: ReceiptEnvelope[] = [];
for (let i = 0; i < N; i++) {
  receipts.push(await sealReceipt(key, {
    job_id: i.toString(16).padStart(64, '0'), client: executor, executor, model: 'tiny', model_sha256: 'ab'.repeat(32),
    input_sha256: 'cd'.repeat(32), output_sha256: 'ef'.repeat(32), tokens_in: 5, tokens_out: 8, status: 'completed',
    started_at: 1, finished_at: 2, timings: { queue_ms: 0, load_ms: 0, first_token_ms: 1, generation_ms: 1, tokens_per_s: 100 },
  }, Date.now()));
}

async function run(label: string, writers: number, count: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'mvp-bench-store-'));
  const store = await openStore({ nodeDir: root, create: true });
  const batch = receipts.slice(0, count);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < batch.length) await store.putReceipt(batch[next++]!, 'executor');
  }));
  const ms = performance.now() - t0;
  const st = await store.status();
  console.log(`${label.padEnd(34)} ${String(count).padStart(6)} receipts  ${(count / (ms / 1000)).toFixed(0).padStart(7)} receipts/s  `
    + `${st.synced_commits} fsyncs (${(count / st.synced_commits).toFixed(1)} receipts per fsync)`);
  await store.close();
  await rm(root, { recursive: true, force: true });
}

/** Job history (unsynced): the rate of the writes that may lag a crash. */
async function runJobs(count: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'mvp-bench-store-'));
  const store = await openStore({ nodeDir: root, create: true });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => store.recordJob({
    id: `job-${i}`, client: executor, model: 'tiny', priority: 'normal', max_tokens: 8, status: 'completed', queued_at: 1,
    started_at: 2, finished_at: 3, queue_ms: 1, first_token_ms: 1, generation_ms: 1, tokens_in: 5, tokens_out: 8,
  })));
  const ms = performance.now() - t0;
  console.log(`${'job records, unsynced'.padEnd(34)} ${String(count).padStart(6)} records   ${(count / (ms / 1000)).toFixed(0).padStart(7)} records/s`);
  await store.close();
  await rm(root, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, store in ${tmpdir()}`);
await run('1 writer (one fsync per receipt)', 1, Math.min(N, 300));
await run(`${WRITERS} writers (group commit)`, WRITERS, N);
await runJobs(N);
