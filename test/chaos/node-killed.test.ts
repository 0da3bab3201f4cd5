// Chaos scenario: a node killed mid-job. Four `mvp-node` processes serve the `small`
// test model; a light client submits a long job and kill -9s its executor at the first token.
// The job moves to another node and completes there; every survivor holds the same one accepted
// receipt for it; every survivor suspects the dead peer, then evicts it from its peer table,
// within bounds set by heartbeat_timeout_secs (T): suspect past T/2 of silence, expired past T,
// each noticed within a liveness tick (≤ 1 s) of the dead peer's last sign of life, which came
// before the kill.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type LogLine, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { get, parseMetrics, sample } from '../helpers/api.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { submitJob } from '../../src/client/submit.ts';
import type { JobBody } from '../../src/actors/api/messages.ts';
import type { PeerSummary } from '../../src/actors/network/messages.ts';
import { record, secs } from './report.ts';

const HEARTBEAT_TIMEOUT_S = 6;
const T = HEARTBEAT_TIMEOUT_S * 1000;
/** The liveness tick at this T (service.ts: T/12 within [250 ms, 1 s]). */
const TICK = 500;
/** Allowance for a loaded machine: timers and log lines late by this much still pass. */
const SLACK = 3000;
const NAMES = ['k1', 'k2', 'k3', 'k4'];

interface Member { name: string; proc: NodeProcess; addr: string; peerId: string; api: string }

describe('chaos: a node killed mid-job', () => {
  const members: Member[] = [];
  before(async () => {
    const dir = tmpDir();
    const model = await testModelPath('small');
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, `[executor]\nmax_load_per_core = 1000\n[distributed_orchestration]\nheartbeat_timeout_secs = ${HEARTBEAT_TIMEOUT_S}\n`);
    const start = async (name: string, boot: string[]) => {
      const proc = spawnNode(['-c', cfg, '--node-id', name, '--port', '0', '--model', model, '--data-dir', dir, ...boot]);
      const addr = `/ip4/127.0.0.1/tcp/${await listenPort(proc)}`;
      const started = await proc.waitFor((l) => l.msg.startsWith('Node started'), 60_000, `${name} to start`);
      const api = (JSON.parse(readFileSync(join(dir, name, 'api.json'), 'utf8')) as { url: string }).url;
      return { name, proc, addr, peerId: String(started.peer_id), api };
    };
    const first = await start(NAMES[0]!, []);
    members.push(first, ...await Promise.all(NAMES.slice(1).map((name) => start(name, ['--bootstrap', first.addr]))));
    await Promise.all(members.map((m) => Promise.all(members.filter((o) => o !== m).map((o) =>
      m.proc.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === o.name, 60_000, `${m.name} to know ${o.name}`)))));
  });
  after(async () => { await Promise.all(members.map((m) => m.proc.stop('SIGKILL'))); });

  it('completes the job elsewhere with one receipt, and every survivor suspects then evicts the dead node', async () => {
    const assigned: Array<{ executor: string; attempt: number }> = [];
    let jobId = '';
    let killed: Member | undefined;
    let killedAt = 0;
    const t0 = performance.now();
    const result = await submitJob({
      bootstrap: members.map((m) => m.addr), prompt: 'Tell me a long story', maxTokens: 600, temperature: 0, seed: 3,
      priority: 'normal', timeoutMs: 120_000,
      onOffer: (id) => { jobId = id; },
      onAssign: (a) => { assigned.push({ executor: a.executor, attempt: a.attempt }); },
      onToken: () => {
        if (killed) return;
        killed = members.find((m) => m.peerId === assigned.at(-1)!.executor)!;
        killed.proc.proc.kill('SIGKILL');
        killedAt = Date.now();
      },
    });
    const completedS = secs(t0, performance.now());
    assert.ok(killed, 'the kill landed during generation');
    const dead = killed;
    const survivors = members.filter((m) => m !== dead);
    assert.deepEqual(assigned.map((a) => a.attempt), [1, 2], 'assigned, then re-assigned after the kill');
    assert.equal(assigned[0]!.executor, dead.peerId);
    assert.notEqual(result.executor, dead.peerId);
    assert.ok(survivors.some((m) => m.peerId === result.executor), 'completed by a survivor');
    assert.equal(result.receipt.from, result.executor);
    assert.equal(result.receipt.body.status, 'completed');
    assert.equal(result.receipt.body.job_id, jobId);

    // Every survivor holds the receipt the client got, and refused no other one for any job.
    const held = new Set<string>();
    for (const m of survivors) {
      let body: JobBody | undefined;
      for (const end = Date.now() + 30_000; !body?.receipt && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
        body = (await get<JobBody>(`${m.api}/jobs/${jobId}`)).body;
      }
      assert.ok(body?.receipt, `${m.name} holds a receipt for the job`);
      assert.deepEqual([body.receipt.id, body.receipt.sig], [result.receipt.id, result.receipt.sig], `${m.name} holds the client's receipt`);
      held.add(body.receipt.id);
      if (m.peerId === result.executor) assert.equal(body.job?.status, 'completed', `${m.name} ran it`);
      const metrics = await parseMetrics((await get<string>(`${m.api}/metrics`)).body);
      for (const reason of ['duplicate_receipt', 'unassigned_receipt']) {
        assert.equal(sample(metrics, 'mvp_gossip_messages_dropped_total', { reason }) ?? 0, 0, `${m.name}: no receipt refused as ${reason}`);
      }
    }

    assert.equal(held.size, 1, 'one receipt for the job across the survivors');

    // Liveness: each survivor logs the dead peer suspect, then expired, with how long it had been silent.
    const logged = (m: Member, prefix: string) => m.proc.waitFor((l: LogLine) => l.msg.startsWith(prefix) && l.peer === dead.peerId && Number(l.time) >= killedAt,
      T + 2 * SLACK + 30_000, `${m.name} to log "${prefix}" for ${dead.name}`);
    for (const m of survivors) {
      const [suspect, expired] = await Promise.all([logged(m, 'Peer suspected'), logged(m, 'Peer expired')]);
      const suspectS = (Number(suspect.time) - killedAt) / 1000;
      const deadS = (Number(expired.time) - killedAt) / 1000;
      record('node-killed', {
        survivor: m.name, killed: dead.name, heartbeat_timeout_s: HEARTBEAT_TIMEOUT_S,
        suspect_s: suspectS, dead_s: deadS, silent_at_suspect_s: Number(suspect.silent_ms) / 1000, silent_at_dead_s: Number(expired.silent_ms) / 1000,
        job_completed_s: completedS, receipts_held: held.size,
      });
      assert.ok(Number(suspect.silent_ms) > T / 2, `${m.name}: suspected after ${suspect.silent_ms} ms of silence, past T/2`);
      assert.ok(Number(expired.silent_ms) > T, `${m.name}: expired after ${expired.silent_ms} ms of silence, past T`);
      assert.ok(Number(suspect.time) <= Number(expired.time), `${m.name}: suspected before expired`);
      assert.ok(suspectS * 1000 <= T / 2 + TICK + SLACK, `${m.name}: suspected ${suspectS} s after the kill, within T/2 + a tick (+${SLACK} ms slack)`);
      assert.ok(deadS * 1000 <= T + TICK + SLACK, `${m.name}: expired ${deadS} s after the kill, within T + a tick (+${SLACK} ms slack)`);
      const peers = (await get<PeerSummary[]>(`${m.api}/peers`)).body;
      assert.ok(!peers.some((p) => p.peer_id === dead.peerId), `${m.name} no longer lists ${dead.name}`);
      assert.deepEqual(survivors.filter((o) => o !== m).map((o) => peers.find((p) => p.peer_id === o.peerId)?.state), ['alive', 'alive'], `${m.name} still has the other survivors alive`);
    }
  });
});
