// The node's store on a real LevelDB in a temporary directory: receipts fsynced in groups and
// never twice, job history, cursor pages that hold still while the store changes, pruning,
// schema versions and migration, and a damaged store refused with the command that repairs it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, readFile, readdir, truncate, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealReceipt, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import { openStore, checkDataDir, repairDataDir, type NodeStore } from '../../src/store/store.ts';
import { SCHEMA_VERSION, legacyLedgerFile, schemaFile, storeDir } from '../../src/store/layout.ts';
import type { JobRecord } from '../../src/actors/scheduler/messages.ts';
import { newPeer, NOW, receiptBy, type Peer } from '../helpers/jobs.ts';

let root: string;
let client: Peer;
let executor: Peer;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mvp-store-'));
  client = await newPeer(); executor = await newPeer();
});
after(async () => { await rm(root, { recursive: true, force: true }); });

let dirs = 0;
async function nodeDir(): Promise<string> {
  const d = join(root, `data-${++dirs}`, 'node1');
  await mkdir(d, { recursive: true });
  return d;
}

async function receipt(i: number, at = NOW + i): Promise<ReceiptEnvelope> {
  return sealReceipt(executor.key, { ...receiptBy(executor, client), job_id: i.toString(16).padStart(64, '0') }, at);
}

function job(id: string, status: JobRecord['status'] = 'queued', at = NOW): JobRecord {
  return {
    id, client: client.id, model: 'tiny', priority: 'normal', max_tokens: 8, status, queued_at: at, started_at: null,
    finished_at: status === 'queued' ? null : at + 5, queue_ms: null, first_token_ms: null, generation_ms: null, tokens_in: 0, tokens_out: 0,
  };
}

describe('store: receipts', () => {
  it('stores a receipt once, merges roles, and keeps the first receipt of a job', async () => {
    const s = await openStore({ nodeDir: await nodeDir(), create: true });
    try {
      const r = await receipt(1);
      assert.deepEqual(await s.putReceipt(r, 'executor'), { seq: '1', outcome: 'stored' });
      assert.deepEqual(await s.putReceipt(r, 'executor'), { seq: '1', outcome: 'already' });
      assert.deepEqual(await s.putReceipt(r, 'client'), { seq: '1', outcome: 'already' });
      const other = await sealReceipt(executor.key, { ...r.body, tokens_out: r.body.tokens_out + 1 }, NOW + 99);
      assert.equal((await s.putReceipt(other, 'replica')).outcome, 'conflict');
      const held = await s.receipt(r.body.job_id);
      assert.equal(held?.receipt.id, r.id);
      assert.deepEqual(held?.roles, ['executor', 'client']);
      assert.equal((await s.status()).receipts, 1);
    } finally { await s.close(); }
  });

  it('commits concurrent receipts in groups, each synced group holding many', async () => {
    const s = await openStore({ nodeDir: await nodeDir(), create: true });
    try {
      const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => receipt(i)));
      const puts = await Promise.all(rs.map((r, i) => s.putReceipt(r, i % 2 ? 'executor' : 'client')));
      assert.equal(new Set(puts.map((p) => p.seq)).size, 200);
      const st = await s.status();
      assert.equal(st.receipts, 200);
      assert.ok(st.synced_commits < 200, `200 receipts took ${st.synced_commits} synced commits: not grouped`);
      assert.ok(st.size_bytes! > 0);
      // The same receipts again, concurrently: nothing new.
      const again = await Promise.all(rs.map((r) => s.putReceipt(r, 'replica')));
      assert.ok(again.every((p) => p.outcome === 'already'));
      assert.equal((await s.status()).receipts, 200);
      assert.equal((await s.check()).healthy, true);
    } finally { await s.close(); }
  });

  it('pages by cursor, and a page stays put while new receipts arrive', async () => {
    const s = await openStore({ nodeDir: await nodeDir(), create: true });
    try {
      for (let i = 0; i < 25; i++) await s.putReceipt(await receipt(i), 'executor');
      const first = await s.receipts({ limit: 10 });
      assert.deepEqual(first.items.map((r) => r.seq), ['25', '24', '23', '22', '21', '20', '19', '18', '17', '16']);
      assert.equal(first.next, '16');
      for (let i = 100; i < 105; i++) await s.putReceipt(await receipt(i), 'executor');
      const second = await s.receipts({ before: first.next!, limit: 10 });
      assert.deepEqual(second.items.map((r) => r.seq), ['15', '14', '13', '12', '11', '10', '9', '8', '7', '6']);
      const last = await s.receipts({ before: second.next!, limit: 10 });
      assert.equal(last.items.length, 5);
      assert.equal(last.next, null);
      const tail = await s.receipts({ after: '25', limit: 3 });
      assert.deepEqual(tail.items.map((r) => r.seq), ['26', '27', '28']);
      assert.equal(tail.next, '28');
      await assert.rejects(s.receipts({ before: 'abc', limit: 1 }), { name: 'InvalidCursorError' });
    } finally { await s.close(); }
  });

  it('survives reopening, and prunes by count and age only when asked', async () => {
    const dir = await nodeDir();
    let now = NOW;
    let s: NodeStore = await openStore({ nodeDir: dir, create: true, now: () => now });
    for (let i = 0; i < 10; i++) { now = NOW + i * 86_400_000; await s.putReceipt(await receipt(i), 'executor'); }
    assert.deepEqual(await s.prune({ receipts_max_age_days: 0, receipts_max_count: 0, jobs_max_age_days: 0, jobs_max_count: 0 }), { receipts: 0, jobs: 0 });
    await s.close();
    s = await openStore({ nodeDir: dir, now: () => now });
    try {
      assert.equal((await s.status()).receipts, 10);
      assert.deepEqual(await s.prune({ receipts_max_age_days: 0, receipts_max_count: 8, jobs_max_age_days: 0, jobs_max_count: 0 }), { receipts: 2, jobs: 0 });
      assert.equal((await s.receipts({ after: '0', limit: 1 })).items[0]!.seq, '3');
      // now is day 9: older than 5 days are days 0..3 (stored_at < day 4); 0 and 1 already went
      assert.deepEqual(await s.prune({ receipts_max_age_days: 5, receipts_max_count: 0, jobs_max_age_days: 0, jobs_max_count: 0 }), { receipts: 2, jobs: 0 });
      assert.equal((await s.status()).receipts, 6);
      assert.equal(await s.receipt((0).toString(16).padStart(64, '0')), undefined);
      assert.equal((await s.check()).healthy, true);
    } finally { await s.close(); }
  });
});

describe('store: jobs and values', () => {
  it('keeps each job once, at its latest state, newest first, filtered by status', async () => {
    const s = await openStore({ nodeDir: await nodeDir(), create: true });
    try {
      await s.recordJob(job('a'));
      await s.recordJob(job('b'));
      await s.recordJob(job('a', 'completed'));
      const page = await s.jobs({ limit: 10 });
      assert.deepEqual(page.items.map((j) => [j.id, j.status]), [['b', 'queued'], ['a', 'completed']]);
      assert.deepEqual((await s.jobs({ limit: 10, status: 'completed' })).items.map((j) => j.id), ['a']);
      assert.equal((await s.job('a'))?.status, 'completed');
      assert.equal((await s.status()).jobs, 2);
    } finally { await s.close(); }
  });

  it('keeps named values', async () => {
    const s = await openStore({ nodeDir: await nodeDir(), create: true });
    try {
      await s.putValue('blocked/p1', { since: 1 }, true);
      await s.putValue('blocked/p2', { since: 2 }, true);
      await s.putValue('reputation', [{ peer: 'x' }], false);
      await s.deleteValue('blocked/p1', true);
      assert.deepEqual(await s.values('blocked/'), [{ name: 'blocked/p2', value: { since: 2 } }]);
      assert.deepEqual(await s.getValue('reputation'), [{ peer: 'x' }]);
    } finally { await s.close(); }
  });
});

describe('store: versions and damage', () => {
  it('migrates a version-0 directory: the orchestration JSON file moves into the store', async () => {
    const dir = await nodeDir();
    const dataDir = join(dir, '..');
    const legacy = legacyLedgerFile(dataDir, client.id);
    await mkdir(join(dataDir, 'consensus'), { recursive: true });
    await writeFile(legacy, JSON.stringify({ votes: { swarm: 3 } }));
    const s = await openStore({ nodeDir: dir, create: true, legacy: { dataDir, peerId: client.id } });
    try {
      assert.deepEqual(await s.getValue('orchestration'), { votes: { swarm: 3 } });
    } finally { await s.close(); }
    assert.equal(existsSync(legacy), false, 'the JSON file is gone once the store holds it');
    assert.deepEqual(JSON.parse(await readFile(schemaFile(dir), 'utf8')), { version: SCHEMA_VERSION });
  });

  it('refuses a version-0 orchestration file it cannot read, naming it', async () => {
    const dir = await nodeDir();
    const dataDir = join(dir, '..');
    await mkdir(join(dataDir, 'consensus'), { recursive: true });
    await writeFile(legacyLedgerFile(dataDir, client.id), '{"votes":');
    await assert.rejects(openStore({ nodeDir: dir, create: true, legacy: { dataDir, peerId: client.id } }),
      (e: Error) => e.name === 'StoreCorruptError' && e.message.includes(legacyLedgerFile(dataDir, client.id)));
    assert.equal(existsSync(schemaFile(dir)), false, 'not marked upgraded');
  });

  it('refuses a directory written by a newer version, saying what to do', async () => {
    const dir = await nodeDir();
    await writeFile(schemaFile(dir), JSON.stringify({ version: SCHEMA_VERSION + 1 }));
    await assert.rejects(openStore({ nodeDir: dir, create: true }), (e: Error) =>
      e.name === 'StoreVersionError' && /newer than this mvp-node understands/.test(e.message) && e.message.includes(dir));
  });

  it('refuses a store whose files are gone rather than starting empty', async () => {
    const dir = await nodeDir();
    const s = await openStore({ nodeDir: dir, create: true });
    await s.putReceipt(await receipt(1), 'executor');
    await s.close();
    await unlink(join(storeDir(dir), 'CURRENT'));
    await assert.rejects(openStore({ nodeDir: dir, create: true }), (e: Error) =>
      e.name === 'StoreCorruptError' && e.message.includes('CURRENT') && e.message.includes('mvp-node data repair'));
  });

  it('refuses a truncated store, and data repair brings back a healthy one', async () => {
    const dir = await nodeDir();
    let s = await openStore({ nodeDir: dir, create: true });
    for (let i = 0; i < 300; i++) await s.putReceipt(await receipt(i), 'executor');
    await s.close();
    s = await openStore({ nodeDir: dir }); // reopening writes the log out as a table file
    await s.close();
    const tables = (await readdir(storeDir(dir))).filter((f) => f.endsWith('.ldb'));
    assert.ok(tables.length > 0, 'a table file to damage');
    const table = join(storeDir(dir), tables[0]!);
    await truncate(table, Math.floor((await stat(table)).size / 2));
    await assert.rejects(openStore({ nodeDir: dir }), (e: Error) =>
      e.name === 'StoreCorruptError' && e.message.includes(storeDir(dir)) && e.message.includes('mvp-node data repair'));
    const bad = await checkDataDir(dir).catch((e: Error) => e);
    assert.ok(bad instanceof Error ? bad.name === 'StoreCorruptError' : !bad.healthy, 'check does not call it healthy');
    const { report } = await repairDataDir(dir);
    assert.equal(report.healthy, true, report.problems.join('; '));
    assert.ok(report.receipts < 300);
    s = await openStore({ nodeDir: dir });
    await s.close();
  });

  it('a second opener is told the store is in use', async () => {
    const dir = await nodeDir();
    const s = await openStore({ nodeDir: dir, create: true });
    try {
      await assert.rejects(checkDataDir(dir), { name: 'StoreLockedError' });
    } finally { await s.close(); }
  });
});
