// A question never changes the node, whatever a model makes of it: random-weight test models
// (their choice of intent is noise) interpret questions in a running node whose safety rules
// would execute any action at once (require_confirmation_above = 1), so only the check of the
// model's reading against the rules stands between a question and a change. The queue
// capacity, the heartbeat interval and the orchestrator's settings must stay as they were.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { AskResult, OrchestratorMetrics, OrchestratorStatus } from '../../src/actors/orchestrator/messages.ts';
import { INTENTS } from '../../src/actors/orchestrator/language.ts';
import type { SchedulerStatus } from '../../src/actors/scheduler/messages.ts';
import type { TestModelPreset } from '../../src/models/make-test.ts';
import { QUESTIONS } from '../fixtures/nl-questions.ts';
import { testConfig } from '../helpers/config.ts';
import { testModelPath } from '../helpers/test-model.ts';

async function askQuestions(preset: TestModelPreset, questions: readonly string[], t: { diagnostic(s: string): void }): Promise<void> {
  const config = testConfig({
    node: { node_id: `ask-${preset}` },
    orchestrator: {
      // Threads are explicit in the engine (1 below 1B parameters): no oversubscribed 2-core machine.
      model_path: await testModelPath(preset), device: 'cpu', cache: { enabled: false },
      safety: { allowed_actions: ['scale_queue', 'adjust_gossip', 'wait', 'start_election', 'migrate_context'], require_confirmation_above: 1 },
    },
  });
  const node: MvpNode = await createNode(config, { transport: 'memory', serveModels: false });
  try {
    await node.start();
    const request = <T>(to: string, type: string, extra: Record<string, unknown> = {}) => node.supervisor.request<T>(to, { type, ...extra }, 60_000);
    const capacity = async () => (await request<SchedulerStatus>('scheduler', 'scheduler.status')).capacity;
    const heartbeat = async () => (await node.network()).heartbeat_ms;
    const settings = async () => {
      const s = await request<OrchestratorStatus>('orchestrator', 'orchestrator.status');
      return { mode: s.mode, safety: { ...s.safety, held: 0 }, cache: s.cache.enabled, timeout: s.decision_timeout_ms };
    };
    const before = { capacity: await capacity(), heartbeat: await heartbeat(), settings: await settings() };
    assert.equal(before.settings.mode, 'llm');
    const seen = { model_actions_set_aside: 0, held: 0, model_reads: 0, fallbacks: 0 };
    for (const [n, text] of questions.entries()) {
      const r = await request<AskResult>('orchestrator', 'orchestrator.ask', { text });
      const i = r.interpretation;
      if (i.fallback_reason) seen.fallbacks++;
      else if (i.check?.verdict === 'question') seen.model_actions_set_aside++;
      else if (i.source === 'llm') seen.model_reads++;
      if (i.check?.verdict === 'question') assert.equal(r.decision, undefined, `"${text}": the model's action was acted on`);
      if (INTENTS[i.intent].kind === 'read') assert.equal(r.decision, undefined, `"${text}": a read intent decided something`);
      if (r.decision) {
        seen.held += r.decision.outcome === 'held' ? 1 : 0;
        // Not a question to the rules, and not their reading either: held (or refused), whatever its confidence.
        assert.ok(['held', 'refused'].includes(r.decision.outcome), `"${text}": ${r.decision.outcome}`);
        if (r.decision.outcome === 'held') assert.match(r.decision.outcome_reason!, /held until an operator confirms it/);
        assert.notEqual(r.decision.outcome, 'executed', `"${text}" executed ${r.decision.action} ${JSON.stringify(r.decision.params)} (${JSON.stringify(i.check)})`);
        await request('orchestrator', 'orchestrator.reject', { id: r.decision.id, reason: 'a question' }).catch(() => undefined);
      }
      if (n % 10 === 9 || n === questions.length - 1) {
        assert.equal(await capacity(), before.capacity, `queue capacity changed by question ${n + 1}`);
        assert.equal(await heartbeat(), before.heartbeat, `heartbeat interval changed by question ${n + 1}`);
      }
    }
    assert.deepEqual(await settings(), before.settings);
    const m = await request<OrchestratorMetrics>('orchestrator', 'orchestrator.metrics');
    assert.equal(m.decisions.by_outcome.executed, 0);
    assert.equal(m.ask.total, questions.length);
    t.diagnostic(`${preset}: ${questions.length} questions; model actions set aside ${seen.model_actions_set_aside}, other model readings ${seen.model_reads}, held ${seen.held}, fallbacks ${seen.fallbacks}`);
    // The model did answer: the check was exercised, not bypassed by fallbacks.
    assert.ok(seen.fallbacks < questions.length, 'the model never answered');
  } finally {
    await node.stop();
  }
}

describe('orchestrator ask with a model: a question never changes the node', () => {
  it(`${QUESTIONS.length} questions to the tiny test model`, async (t) => {
    assert.equal(QUESTIONS.length, 200);
    await askQuestions('tiny', QUESTIONS, t);
  });

  it('20 questions to the 135M-shaped test model', async (t) => {
    // Every tenth question: all kinds, queue and heartbeat questions among them.
    await askQuestions('small', QUESTIONS.filter((_, i) => i % 10 === 0), t);
  });
});
