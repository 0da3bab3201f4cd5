// The orchestrator actor in a whole node (TCP transport, so it has a data directory; no model):
// the safety flows — refusal, hold, confirm, reject, expiry — with actions carried out by the
// scheduler and the network, `ask` against live actors, the audit log, and training records
// written as decisions are taken, completed once their outcome is measured (or, unmeasured,
// at shutdown).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { readTrainingFile, type TrainingRecord } from '../../src/actors/orchestrator/training.ts';
import type { AskResult, DecisionRecord, ExportResult, OrchestratorMetrics, OrchestratorStatus } from '../../src/actors/orchestrator/messages.ts';
import type { SchedulerStatus } from '../../src/actors/scheduler/messages.ts';
import type { ConsensusStatus } from '../../src/actors/consensus/messages.ts';
import type { MetricsSnapshot } from '../../src/decide/heuristics.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const queueHigh: MetricsSnapshot = { queue_depth: 90, queue_capacity: 100, cpu: 0.1, mem_free_mb: 4000, peers: 2 };

describe('orchestrator actor in a node', () => {
  const lines: Array<Record<string, unknown>> = [];
  const exportDir = join(tmpDir(), 'exports');
  const config = testConfig({
    node: { node_id: 'orch-node', listen_port: 0 },
    monitoring: { log_level: 'info' },
    api: { enabled: false },
    // The audit lines are read from createNode's log destination, which captures inline actors.
    runtime: { placement: { orchestrator: 'inline' } },
    orchestrator: {
      training: { outcome_delay_secs: 1, auto_export_threshold: 5, export_path: exportDir },
      safety: { require_confirmation_above: 0.7, confirmation_timeout_secs: 2 },
    },
  });
  let node: MvpNode;
  const ask = <T>(msg: Record<string, unknown>) => node.supervisor.request<T>('orchestrator', msg as { type: string }, 20_000);
  const decide = (context: string | undefined, metrics: MetricsSnapshot) => ask<DecisionRecord>({ type: 'orchestrator.decide', decision_type: 'infrastructure', context, metrics });
  const capacity = async () => (await node.supervisor.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 2000)).capacity;
  const trainingFile = () => join(config.node.data_dir, 'orch-node', 'orchestrator', 'training.jsonl');

  before(async () => {
    const destination = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
    node = await createNode(config, { serveModels: false, logDestination: destination });
    await node.start();
  });
  after(() => node.stop());

  it('holds a decision above require_confirmation_above, and executes it on confirm', async () => {
    const held = await decide(undefined, queueHigh);
    assert.deepEqual([held.action, held.verdict, held.outcome], ['scale_queue', 'held', 'held']);
    assert.match(held.outcome_reason!, /above require_confirmation_above 0\.7/);
    assert.equal(await capacity(), 100);
    // Exportable at once, its outcome marked pending.
    const now = await ask<ExportResult>({ type: 'orchestrator.export', format: 'jsonl' });
    assert.equal(now.records, 1);
    const pending = JSON.parse(now.content) as TrainingRecord;
    assert.deepEqual([pending.id, pending.final, pending.outcome.pending, pending.outcome.measured], [held.id, 'held', true, false]);
    const done = await ask<DecisionRecord>({ type: 'orchestrator.confirm', id: held.id });
    assert.deepEqual([done.id, done.outcome], [held.id, 'executed']);
    assert.equal(done.execution?.detail, 'queue capacity 100 → 150');
    assert.equal(await capacity(), 150);
    await assert.rejects(ask({ type: 'orchestrator.confirm', id: held.id }), (e: Error) => e.name === 'DecisionNotHeldError' && /is executed/.test(e.message));
  });

  it('drops a rejected decision unexecuted', async () => {
    const held = await decide(undefined, { ...queueHigh, queue_capacity: 150, queue_depth: 140 });
    const rejected = await ask<DecisionRecord>({ type: 'orchestrator.reject', id: held.id, reason: 'not now' });
    assert.deepEqual([rejected.outcome, rejected.outcome_reason], ['rejected', 'rejected by an operator: not now']);
    assert.equal(await capacity(), 150);
  });

  it('expires a held decision nobody confirms within confirmation_timeout_secs', async () => {
    const held = await decide(undefined, queueHigh);
    await until(async () => (await ask<DecisionRecord>({ type: 'orchestrator.get', id: held.id })).outcome === 'expired', 10_000, 'expiry');
    await assert.rejects(ask({ type: 'orchestrator.confirm', id: held.id }), (e: Error) => e.name === 'DecisionNotHeldError' && /expired/.test(e.message));
    await assert.rejects(ask({ type: 'orchestrator.confirm', id: 'd-nope' }), (e: Error) => e.name === 'UnknownDecisionError');
    assert.equal(await capacity(), 150);
  });

  it('has the consensus actor carry out a confirmed start_election, and the network adjust_gossip', async () => {
    // Alone, the node founds the swarm group's lineage (epoch 1) once its grace period is over.
    const epoch = async () => (await node.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 2000)).epoch;
    await until(async () => (await epoch()) >= 1, 30_000, 'the swarm group founded');
    const before = await epoch();
    const held = await decide('the coordinator is down', queueHigh);
    assert.deepEqual([held.action, held.verdict, held.outcome, held.params.group], ['start_election', 'held', 'held', 'swarm']);
    const election = await ask<DecisionRecord>({ type: 'orchestrator.confirm', id: held.id });
    assert.equal(election.outcome, 'executed', election.outcome_reason);
    assert.equal(election.execution!.detail, `group swarm: epoch ${before} → ${before + 1}, this node holds it`);
    assert.equal(await epoch(), before + 1);
    const gossip = await decide(undefined, { ...queueHigh, queue_depth: 1, latency_ms: 900 });
    assert.deepEqual([gossip.action, gossip.outcome], ['adjust_gossip', 'executed']);
    assert.match(gossip.execution!.detail, /^heartbeat every 7500 ms \(was 5000 ms\)$/);
  });

  it('answers ask from the live actors, and holds an action asked in words like any other', async () => {
    const peers = await ask<AskResult>({ type: 'orchestrator.ask', text: 'show me all connected nodes' });
    assert.equal(peers.interpretation.intent, 'list_peers');
    assert.ok(Array.isArray(peers.data));
    assert.equal(peers.local, undefined);
    const status = await ask<AskResult>({ type: 'orchestrator.ask', text: 'node status' });
    assert.equal((status.data as { node_id: string }).node_id, 'orch-node');
    const queue = await ask<AskResult>({ type: 'orchestrator.ask', text: 'how full is the queue?' });
    assert.equal((queue.data as { queue: SchedulerStatus }).queue.capacity, 150);
    const scale = await ask<AskResult>({ type: 'orchestrator.ask', text: 'scale the queue to 300' });
    assert.deepEqual([scale.decision?.source, scale.decision?.outcome, scale.decision?.params.capacity], ['user', 'held', 300]);
    await ask({ type: 'orchestrator.confirm', id: scale.decision!.id });
    assert.equal(await capacity(), 300);
    const explain = await ask<AskResult>({ type: 'orchestrator.ask', text: 'explain the last decisions' });
    assert.equal((explain.data as DecisionRecord[])[0]!.id, scale.decision!.id);
  });

  it('writes an audit line for every decision and every change of its outcome', () => {
    const audit = lines.filter((l) => l.audit === 'orchestrator');
    const events = audit.map((l) => `${l.event}:${l.outcome}`);
    for (const e of ['decided:held', 'confirmed:executed', 'rejected:rejected', 'expired:expired', 'decided:executed']) {
      assert.ok(events.includes(e), `no audit line ${e} in ${events.join(', ')}`);
    }
    assert.ok(audit.every((l) => typeof l.id === 'string' && typeof l.action === 'string'));
  });

  it('counts decisions by source, type and outcome, and safety events', async () => {
    const m = await ask<OrchestratorMetrics>({ type: 'orchestrator.metrics' });
    assert.equal(m.decisions.total, 6);
    assert.deepEqual(m.decisions.by_source, { llm: 0, heuristic: 5, cache: 0, user: 1 });
    assert.deepEqual(m.safety, { refused: 0, held: 5, confirmed: 3, rejected: 1, expired: 1, capped: 0 });
    assert.equal(m.decisions.by_outcome.held, 0);
    assert.equal(m.ask.total, 5);
    const s = await ask<OrchestratorStatus>({ type: 'orchestrator.status' });
    assert.deepEqual([s.mode, s.safety.held, s.safety.unavailable], ['heuristic', 0, []]);
    assert.equal(s.training.file, trainingFile());
  });

  it('completes each record once its outcome is measured, and exports every 5 complete records', async () => {
    await until(async () => (await readTrainingFile(trainingFile())).filter((r) => !r.outcome.pending).length === 6, 15_000, '6 complete training records');
    const records = await readTrainingFile(trainingFile());
    const confirmed = records.find((r) => r.final === 'executed' && r.decision.action === 'scale_queue' && r.source === 'heuristic')!;
    assert.equal(confirmed.outcome.measured, true);
    assert.ok(confirmed.outcome.after!.queue_capacity >= 150, 'measured after the queue was scaled');
    assert.equal(confirmed.prompt.user.split('\n')[0], 'Decision type: infrastructure');
    assert.deepEqual(records.map((r) => r.final).sort(), ['executed', 'executed', 'executed', 'executed', 'expired', 'rejected']);
    assert.equal(readdirSync(exportDir).length, 1);
    const exported = await ask<ExportResult>({ type: 'orchestrator.export', format: 'chat' });
    assert.equal(exported.records, 4);
    assert.equal(exported.content.trim().split('\n').length, 4);
    await assert.rejects(ask({ type: 'orchestrator.export', format: 'csv' }), (e: Error) => e.name === 'InvalidDecisionRequestError');
  });

  it('writes the records still waiting for their outcome when the node stops, marked unmeasured', async () => {
    await decide('all quiet', { ...queueHigh, queue_depth: 0 });
    await node.stop();
    const records = await readTrainingFile(trainingFile());
    assert.equal(records.length, 7);
    assert.deepEqual(records.at(-1)!.outcome, { measured: false, reason: 'the orchestrator stopped before the outcome was measured' });
  });
});
