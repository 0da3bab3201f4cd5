// The orchestrator with a real model: generated test models (random weights, meaningless text)
// through the real node-llama-cpp. The grammar makes their output parse; what they choose is
// noise, so every test asserts invariants: a schema-valid decision or a counted fallback to the
// heuristics, never a crash, never an executed action the safety rules did not accept.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getLlamaGpuTypes } from 'node-llama-cpp';
import { LlmEngine, openLlama, OrchestratorDeviceError } from '../../src/actors/orchestrator/llm.ts';
import { ACTIONS, CONFIDENCE_STEPS, decisionJsonSchema, LlmOutputError, parseLlmDecision, REASONING_MAX } from '../../src/actors/orchestrator/llm-schema.ts';
import { INTENT_NAMES, INTENTS, interpretByRules } from '../../src/actors/orchestrator/language.ts';
import { createLocalOrchestrator } from '../../src/actors/orchestrator/local.ts';
import { paramsProblem, GOSSIP_FACTOR_MAX, GOSSIP_FACTOR_MIN } from '../../src/actors/orchestrator/safety.ts';
import type { DecisionRecord, OrchestratorMetrics } from '../../src/actors/orchestrator/messages.ts';
import type { DecisionType, MetricsSnapshot } from '../../src/decide/heuristics.ts';
import type { Orchestrator } from '../../src/actors/orchestrator/orchestrator.ts';
import type { SchedulerStatus } from '../../src/actors/scheduler/messages.ts';
import type { OrchestratorModelType } from '../../src/config/types.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { ActorStartError } from '../../src/runtime/errors.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { testModelPath, tinyTestModelPath } from '../helpers/test-model.ts';

const CONTEXTS: Array<[string, DecisionType]> = [
  ['high CPU usage, queue full', 'infrastructure'],
  ['coordinator down', 'infrastructure'],
  ['memory pressure while holding three contexts', 'context'],
  ['network partition suspected', 'job_routing'],
  ['all quiet', 'infrastructure'],
];

const ASK_SENTENCES = ['show me all connected nodes', 'scale the queue to 200', 'order me a pizza'];

const busy: MetricsSnapshot = { queue_depth: 90, queue_capacity: 100, cpu: 0.5, mem_free_mb: 2000, peers: 2 };

function manualClock(): Clock & { advance(ms: number): void } {
  let t = 5_000_000;
  return {
    now: () => t, advance: (ms) => { t += ms; },
    setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (x) => clearTimeout(x as NodeJS.Timeout),
    setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (x) => clearInterval(x as NodeJS.Timeout),
  };
}

/** Either the model's decision, schema-valid, or the heuristics' with a fallback reason. */
function assertValidOrFallback(r: DecisionRecord): void {
  assert.ok(ACTIONS.includes(r.action), `action ${r.action}`);
  assert.ok(r.confidence >= 0 && r.confidence <= 1);
  if (r.source === 'llm') {
    assert.equal(r.fallback_reason, undefined);
    assert.ok(CONFIDENCE_STEPS.includes(r.confidence as never) || r.confidence === 0.95, `confidence ${r.confidence}`);
    assert.ok([...r.reasoning].length <= REASONING_MAX);
    assert.ok(r.tokens && r.tokens.output > 0);
  } else {
    assert.equal(r.source, 'heuristic');
    assert.ok(['timeout', 'parse', 'invalid', 'error'].includes(r.fallback_reason!), `fallback ${r.fallback_reason}`);
    assert.ok(r.rule);
  }
}

const fallbacks = (m: OrchestratorMetrics) => Object.values(m.llm.fallbacks).reduce((a, b) => a + b, 0);

/** The GPU types node-llama-cpp can use on this machine (`false`: the CPU). */
const supportedGpus = () => getLlamaGpuTypes('supported');

describe('orchestrator device mapping', () => {
  it('maps cpu to node-llama-cpp\'s CPU build, and auto to the best it finds', async () => {
    const gpus = (await supportedGpus()).filter((g) => g !== false);
    for (const device of ['cpu', 'auto'] as const) {
      const llama = await openLlama(device);
      try {
        if (device === 'cpu' || gpus.length === 0) assert.equal(llama.gpu, false);
        else assert.ok(gpus.includes(llama.gpu as never), `auto gave ${String(llama.gpu)}, supported: ${gpus.join(', ')}`);
      } finally {
        await llama.dispose();
      }
    }
  });

  it('opens a device this machine has, and gives a clear error for one it does not have', async (t) => {
    const supported = await supportedGpus();
    for (const device of ['cuda', 'metal'] as const) {
      if (supported.includes(device)) {
        t.diagnostic(`${device} is present on this machine`);
        const llama = await openLlama(device);
        try {
          assert.equal(llama.gpu, device);
        } finally {
          await llama.dispose();
        }
      } else {
        await assert.rejects(openLlama(device), (err: Error) => err instanceof OrchestratorDeviceError
          && new RegExp(`^orchestrator\\.device = "${device}".*set orchestrator\\.device = "auto" or "cpu"`).test(err.message));
      }
    }
  });
});

describe('orchestrator decisions by a generated test model', () => {
  let orch: Orchestrator;
  const clock = manualClock();

  before(async () => {
    const model = await tinyTestModelPath();
    const config = testConfig({ orchestrator: { model_path: model, device: 'cpu', generation: { max_tokens: 256 }, cache: { ttl_seconds: 60 } } });
    orch = await createLocalOrchestrator(config, { clock });
  });
  after(() => orch?.close());

  it('loads the model on the CPU with explicit threads', () => {
    const s = orch.status();
    assert.equal(s.mode, 'llm');
    assert.deepEqual(s.device, { requested: 'cpu', used: 'cpu' });
    assert.equal(s.model?.threads, 1);
  });

  it('every decision is a schema-valid model decision or a counted fallback', async (t) => {
    const records: DecisionRecord[] = [];
    for (let i = 0; i < 3; i++) {
      for (const [context, type] of CONTEXTS) records.push(await orch.makeDecision(`${context} #${i}`, type, { metrics: { ...busy, queue_depth: 10 * i } }));
    }
    for (const r of records) assertValidOrFallback(r);
    const m = orch.metrics();
    const heuristic = records.filter((r) => r.source === 'heuristic').length;
    t.diagnostic(`${records.length - heuristic} model decisions, ${heuristic} fallbacks ${JSON.stringify(m.llm.fallbacks)}`);
    assert.equal(fallbacks(m), heuristic);
    assert.equal(m.llm.calls, records.length);
    assert.ok(m.llm.tokens.output > 0);
  });

  it('answers a similar situation from the cache, until ttl_seconds pass', async () => {
    // Random weights: retry until the model's answer parses (a fallback is not cached).
    let first: DecisionRecord | undefined;
    for (let i = 0; i < 10 && first?.source !== 'llm'; i++) first = await orch.makeDecision(`queue backed up, attempt ${'x'.repeat(i)}`, 'job_routing', { metrics: busy });
    assert.equal(first?.source, 'llm', 'no parseable model answer in 10 attempts');
    const calls = orch.metrics().llm.calls;
    const hit = await orch.makeDecision(first!.context, 'job_routing', { metrics: { ...busy, queue_depth: 93, cpu: 0.6 } });
    assert.deepEqual([hit.source, hit.cached_from, hit.action], ['cache', first!.id, first!.action]);
    assert.equal(orch.metrics().llm.calls, calls);
    assert.ok(orch.metrics().cache.hits >= 1);
    clock.advance(61_000);
    const expired = await orch.makeDecision(first!.context, 'job_routing', { metrics: busy });
    assert.notEqual(expired.source, 'cache');
    assert.equal(orch.metrics().llm.calls, calls + 1);
  });

  it('interprets ask sentences under the intent grammar; a fallback is the rules\' reading, counted', async (t) => {
    const sources: string[] = [];
    for (const text of ASK_SENTENCES) {
      const before = orch.metrics().llm;
      const i = await orch.interpretNaturalLanguage(text);
      const after = orch.metrics().llm;
      sources.push(i.source);
      assert.ok(INTENT_NAMES.includes(i.intent));
      assert.equal(after.calls, before.calls + 1);
      const rules = interpretByRules(text);
      if (i.fallback_reason) {
        assert.equal(i.source, 'rules');
        assert.ok(['timeout', 'parse', 'invalid', 'error'].includes(i.fallback_reason), `fallback ${i.fallback_reason}`);
        assert.equal(after.fallbacks[i.fallback_reason], before.fallbacks[i.fallback_reason] + 1);
        assert.deepEqual([i.intent, i.args], [rules.intent, rules.args]);
      } else {
        assert.deepEqual(after.fallbacks, before.fallbacks);
        if (i.check?.verdict === 'question') {
          // The model read an action where the rules read a question: the rules' reading answers.
          assert.deepEqual([i.source, i.intent, i.args], ['rules', rules.intent, rules.args]);
          assert.ok(['action', 'decide'].includes(INTENTS[i.check.model_intent].kind));
        } else {
          assert.equal(i.source, 'llm');
        }
      }
    }
    t.diagnostic(`sources: ${sources.join(', ')}`);
  });
});

describe('orchestrator model: ask interpretation past decision_timeout_ms', () => {
  it('falls back to the rules\' reading of every sentence, counted as a timeout', async () => {
    // As in the decision timeout test below: the 135M-shaped model needs seconds, not 100 ms.
    const config = testConfig({ orchestrator: { model_path: await testModelPath('small'), device: 'cpu', decision_timeout_ms: 100 } });
    const orch = await createLocalOrchestrator(config);
    try {
      for (const text of ASK_SENTENCES) {
        const i = await orch.interpretNaturalLanguage(text);
        const rules = interpretByRules(text);
        assert.deepEqual([i.source, i.fallback_reason, i.intent, i.args], ['rules', 'timeout', rules.intent, rules.args]);
      }
      assert.equal(orch.metrics().llm.fallbacks.timeout, ASK_SENTENCES.length);
    } finally {
      await orch.close();
    }
  });
});

describe('orchestrator model: the chat template of each model_type', () => {
  for (const modelType of ['llama3_2_1b', 'mistral_7b', 'phi3'] as OrchestratorModelType[]) {
    it(`${modelType}: a decision or a counted fallback`, async () => {
      const config = testConfig({ orchestrator: { model_path: await tinyTestModelPath(), model_type: modelType, device: 'cpu', generation: { max_tokens: 200 } } });
      const orch = await createLocalOrchestrator(config);
      try {
        const r = await orch.makeDecision('queue full', 'infrastructure', { metrics: busy });
        assertValidOrFallback(r);
        assert.equal(orch.status().model_type, modelType);
      } finally {
        await orch.close();
      }
    });
  }
});

describe('orchestrator model: generation settings', () => {
  it('stops at generation.max_tokens (a cut-off answer is a counted parse fallback)', async () => {
    const config = testConfig({ orchestrator: { model_path: await tinyTestModelPath(), device: 'cpu', generation: { max_tokens: 12 } } });
    const orch = await createLocalOrchestrator(config);
    try {
      const r = await orch.makeDecision('queue full', 'infrastructure', { metrics: busy });
      // No decision fits in 12 tokens of this byte-level vocabulary.
      assert.deepEqual([r.source, r.fallback_reason], ['heuristic', 'parse']);
      assert.ok(r.tokens!.output <= 13, `${r.tokens!.output} tokens`);
      assert.equal(orch.metrics().llm.fallbacks.parse, 1);
    } finally {
      await orch.close();
    }
  });

  it('at temperature 0 answers the same situation the same way', async () => {
    const config = testConfig({ orchestrator: { model_path: await tinyTestModelPath(), device: 'cpu', cache: { enabled: false }, generation: { max_tokens: 200, temperature: 0, repetition_penalty: 1 } } });
    const orch = await createLocalOrchestrator(config);
    try {
      const a = await orch.makeDecision('queue full', 'infrastructure', { metrics: busy });
      const b = await orch.makeDecision('queue full', 'infrastructure', { metrics: busy });
      assert.deepEqual([b.source, b.action, b.params, b.confidence, b.reasoning, b.tokens], [a.source, a.action, a.params, a.confidence, a.reasoning, a.tokens]);
    } finally {
      await orch.close();
    }
  });
});

describe('orchestrator model timeouts', () => {
  it('falls back to the heuristics when the model does not answer within decision_timeout_ms', async () => {
    // The 135M-shaped test model writes a grammar-bound decision in seconds; 100 ms is far too little.
    const config = testConfig({ orchestrator: { model_path: await testModelPath('small'), device: 'cpu', decision_timeout_ms: 100, generation: { max_tokens: 512 } } });
    const orch = await createLocalOrchestrator(config);
    try {
      const r = await orch.makeDecision('high CPU usage, queue full', 'infrastructure', { metrics: busy });
      assert.deepEqual([r.source, r.fallback_reason, r.rule], ['heuristic', 'timeout', 'offload']);
      assert.match(r.fallback_detail!, /no answer within 100 ms/);
      assert.equal(orch.metrics().llm.fallbacks.timeout, 1);
      // The engine is free again afterwards: the next request is served, not stuck behind the first.
      const again = await orch.makeDecision('all quiet', 'infrastructure', { metrics: busy });
      assert.equal(again.fallback_reason, 'timeout');
    } finally {
      await orch.close();
    }
  });
});

describe('orchestrator model output parsing', () => {
  it('refuses what is not a decision, and truncates only the reasoning', () => {
    assert.throws(() => parseLlmDecision('{"action":', busy), (e: Error) => e instanceof LlmOutputError && e.kind === 'parse');
    assert.throws(() => parseLlmDecision('{"action":"reboot","params":{},"confidence":0.5,"reasoning":""}', busy), (e: Error) => e instanceof LlmOutputError && e.kind === 'invalid');
    assert.throws(() => parseLlmDecision('{"action":"wait","params":{"retry_after_ms":7},"confidence":0.5,"reasoning":""}', busy), /retry_after_ms/);
    assert.throws(() => parseLlmDecision('{"action":"wait","params":{"retry_after_ms":1000},"confidence":3,"reasoning":""}', busy), /confidence/);
    const long = parseLlmDecision(`{"action":"wait","params":{"retry_after_ms":1000},"confidence":0.5,"reasoning":"${'é'.repeat(400)}"}`, busy);
    assert.equal([...long.reasoning].length, REASONING_MAX);
  });

  it('turns a scale_queue factor into a capacity of the current queue, within the safety bounds', () => {
    const d = parseLlmDecision('{"action":"scale_queue","params":{"factor":1.5},"confidence":0.7,"reasoning":"r"}', busy);
    assert.deepEqual(d.params, { factor: 1.5, capacity: 150, from: 100 });
    assert.equal(paramsProblem(d, 1000), undefined);
    const down = parseLlmDecision('{"action":"scale_queue","params":{"factor":0.5},"confidence":0.7,"reasoning":"r"}', { ...busy, queue_capacity: 1 });
    assert.equal(down.params.capacity, 1);
  });

  it('offers every action with bounded parameters', () => {
    const schema = decisionJsonSchema();
    assert.deepEqual(schema.oneOf.map((s) => s.properties.action.const), ACTIONS);
    const gossip = schema.oneOf.find((s) => s.properties.action.const === 'adjust_gossip')!.properties.params.properties as Record<string, { enum: number[] }>;
    assert.ok(gossip.heartbeat_factor!.enum.every((f) => f >= GOSSIP_FACTOR_MIN && f <= GOSSIP_FACTOR_MAX));
  });
});

describe('orchestrator model in a node', () => {
  let node: MvpNode | undefined;
  after(() => node?.stop());

  it('stops the node at start when orchestrator.model_path fails the model checks', async () => {
    const bad = join(tmpDir(), 'not-a-model.gguf');
    writeFileSync(bad, 'this is not a GGUF file');
    await assert.rejects(createNode(testConfig({ orchestrator: { model_path: bad } }), { transport: 'memory' }),
      (e: Error) => e.name === 'ModelLoadError' && e.message.includes(bad));
  });

  it('stops the node at start when orchestrator.device is not present', async (t) => {
    // Metal where this machine has none; on a Mac (metal present), CUDA, which no Mac has.
    const device = (await supportedGpus()).includes('metal') ? 'cuda' : 'metal';
    t.diagnostic(`device = ${device}`);
    const n = await createNode(testConfig({ orchestrator: { model_path: await tinyTestModelPath(), device } }), { transport: 'memory' });
    await assert.rejects(n.start(), (err: Error) => err instanceof ActorStartError && (err.cause as Error).name === 'OrchestratorDeviceError');
  });

  it('executes only what the safety rules accepted, through the scheduler and the network', async (t) => {
    const config = testConfig({
      node: { node_id: 'llm-node' },
      orchestrator: { model_path: await tinyTestModelPath(), device: 'cpu', generation: { max_tokens: 200 }, cache: { enabled: false },
        safety: { allowed_actions: ['scale_queue', 'adjust_gossip', 'wait', 'migrate_context'], require_confirmation_above: 0.85 } },
    });
    node = await createNode(config, { transport: 'memory' });
    await node.start();
    const capacity = async () => (await node!.supervisor.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 2000)).capacity;
    let expected = await capacity();
    const records: DecisionRecord[] = [];
    for (let i = 0; i < 4; i++) {
      for (const [context, type] of CONTEXTS) {
        const r: DecisionRecord = await node.supervisor.request<DecisionRecord>('orchestrator',
          { type: 'orchestrator.decide', decision_type: type, context, metrics: { ...busy, queue_capacity: expected } }, 60_000);
        records.push(r);
        assertValidOrFallback(r);
        if (r.outcome === 'executed') {
          assert.equal(r.verdict, 'accepted');
          assert.ok(config.orchestrator.safety.allowed_actions.includes(r.action));
          if (r.action !== 'wait') assert.ok(r.confidence <= 0.85);
          assert.equal(paramsProblem(r, 10 * config.executor.max_queue_size), undefined);
          if (r.action === 'scale_queue') expected = r.params.capacity as number;
        } else {
          assert.notEqual(r.execution?.ok, true, 'not executed unless accepted');
          assert.ok(['refused', 'held', 'failed'].includes(r.outcome), r.outcome);
          if (r.action === 'start_election') assert.equal(r.verdict, 'refused');
          // This node serves no model: a migration has nothing to move.
          if (r.action === 'migrate_context') assert.match(r.outcome_reason!, /^migrate_context cannot run: no model is served here/);
        }
        // The queue capacity changes only by executed scale_queue decisions.
        assert.equal(await capacity(), expected);
      }
    }
    const m = await node.supervisor.request<OrchestratorMetrics>('orchestrator', { type: 'orchestrator.metrics' }, 5000);
    t.diagnostic(`outcomes ${JSON.stringify(m.decisions.by_outcome)}, actions ${JSON.stringify(m.decisions.by_action)}`);
    assert.equal(fallbacks(m), records.filter((r) => r.source === 'heuristic').length);
    assert.equal(m.decisions.total, records.length);
  });
});
