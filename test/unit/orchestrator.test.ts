// The orchestrator's heuristic policy and safety gate, as tables of cases.
// The policy table itself is documented above RULES in src/decide/heuristics.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { HINT_ONLY_PENALTY, RULES, decideHeuristically, parseHints, type DecisionType, type MetricsSnapshot } from '../../src/decide/heuristics.ts';
import { applySafety, UNAVAILABLE_ACTIONS } from '../../src/actors/orchestrator/safety.ts';
import type { OrchestratorAction } from '../../src/config/types.ts';

const calm: MetricsSnapshot = { queue_depth: 2, queue_capacity: 100, cpu: 0.2, mem_free_mb: 8000, peers: 3 };
const m = (over: Partial<MetricsSnapshot>): MetricsSnapshot => ({ ...calm, ...over });

describe('orchestrator heuristics', () => {
  const cases: Array<[string, MetricsSnapshot, DecisionType, string | undefined, OrchestratorAction, string]> = [
    ['a calm node waits', calm, 'infrastructure', undefined, 'wait', 'nominal'],
    ['a queue over 80 % with idle CPU scales the queue', m({ queue_depth: 85 }), 'infrastructure', undefined, 'scale_queue', 'scale_queue'],
    ['a full queue with busy CPU offloads to a peer', m({ queue_depth: 100, cpu: 0.95 }), 'infrastructure', undefined, 'migrate_context', 'offload'],
    ['a full queue with low memory offloads to a peer', m({ queue_depth: 100, mem_free_mb: 100 }), 'job_routing', undefined, 'migrate_context', 'offload'],
    ['a saturated node without peers waits', m({ queue_depth: 100, cpu: 0.95, peers: 0 }), 'infrastructure', undefined, 'wait', 'overloaded_alone'],
    ['a node without peers waits', m({ peers: 0 }), 'infrastructure', undefined, 'wait', 'isolated'],
    ['a node without peers still scales its own queue', m({ queue_depth: 90, peers: 0 }), 'infrastructure', undefined, 'scale_queue', 'scale_queue'],
    ['"coordinator down" starts an election', calm, 'infrastructure', 'the coordinator is down', 'start_election', 'coordinator_down'],
    ['"coordinator down" without peers waits', m({ peers: 0 }), 'infrastructure', 'coordinator down', 'wait', 'isolated'],
    ['"partition" retunes gossip', calm, 'infrastructure', 'network partition suspected', 'adjust_gossip', 'partition'],
    ['"queue full" alone scales the queue', calm, 'infrastructure', 'queue full', 'scale_queue', 'scale_queue'],
    ['"high CPU, queue full" offloads', calm, 'infrastructure', 'high CPU usage, queue full', 'migrate_context', 'offload'],
    ['low memory in a context decision migrates a context', m({ mem_free_mb: 200 }), 'context', undefined, 'migrate_context', 'context_memory'],
    ['low memory in an infrastructure decision does not', m({ mem_free_mb: 200 }), 'infrastructure', undefined, 'wait', 'nominal'],
    ['high latency retunes gossip', m({ latency_ms: 900 }), 'infrastructure', undefined, 'adjust_gossip', 'degraded_links'],
    ['repeated failures retune gossip', m({ failures_recent: 5 }), 'job_routing', undefined, 'adjust_gossip', 'degraded_links'],
  ];
  for (const [name, metrics, type, context, action, rule] of cases) {
    it(name, () => {
      const d = decideHeuristically(metrics, type, context);
      assert.equal(d.action, action);
      assert.equal(d.rule, rule);
      assert.match(d.reasoning, new RegExp(`^\\[${type}\\] ${rule}:`));
    });
  }

  it('scale_queue proposes 1.5× the capacity, and at least one more slot', () => {
    assert.deepEqual(decideHeuristically(m({ queue_depth: 9, queue_capacity: 10 }), 'infrastructure').params, { capacity: 15, from: 10 });
    assert.deepEqual(decideHeuristically(m({ queue_depth: 1, queue_capacity: 1 }), 'infrastructure').params, { capacity: 2, from: 1 });
  });

  it('trusts figures more than words: a rule fired by the text alone is less confident', () => {
    const measured = decideHeuristically(m({ queue_depth: 100 }), 'infrastructure');
    const worded = decideHeuristically(calm, 'infrastructure', 'queue full');
    assert.equal(measured.action, worded.action);
    assert.equal(worded.confidence, measured.confidence - HINT_ONLY_PENALTY);
    assert.match(worded.reasoning, /context text only/);
  });

  it('reads keyword hints from free text', () => {
    assert.deepEqual([...parseHints('High CPU usage detected, queue at 85%')].sort(), ['high_cpu', 'queue_high']);
    assert.deepEqual([...parseHints('coordinator unreachable after a network split')].sort(), ['coordinator_down', 'partition']);
    assert.equal(parseHints('all good').size, 0);
    assert.equal(parseHints(undefined).size, 0);
  });

  it('always answers one of the seed actions, with confidence in [0, 1], whatever the input', () => {
    const actions = new Set(RULES.map((r) => r.action));
    const num = fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: -5, max: 1000 }));
    fc.assert(fc.property(
      fc.record({ queue_depth: num, queue_capacity: num, cpu: num, mem_free_mb: num, peers: num }),
      fc.constantFrom<DecisionType>('infrastructure', 'context', 'job_routing'),
      fc.string(),
      (metrics, type, text) => {
        const d = decideHeuristically(metrics, type, text);
        assert.ok(actions.has(d.action));
        assert.ok(d.confidence >= 0 && d.confidence <= 1);
      },
    ));
  });
});

describe('orchestrator safety', () => {
  const safety = { allowed_actions: ['wait', 'scale_queue', 'adjust_gossip', 'start_election'] as OrchestratorAction[], max_confidence_threshold: 0.95, require_confirmation_above: 0.8 };
  const d = (action: OrchestratorAction, confidence: number, params: Record<string, unknown> = {}) => ({ action, params, confidence, reasoning: 'r' });
  const scale = (confidence: number, capacity = 150) => d('scale_queue', confidence, { capacity });

  it('refuses an action that is not allowed, and says why', () => {
    const g = applySafety(d('migrate_context', 0.5), safety);
    assert.equal(g.verdict, 'refused');
    assert.match(g.reason!, /migrate_context is not in orchestrator\.safety\.allowed_actions/);
  });

  it('refuses an allowed action whose owner cannot carry it out on this node: "not available"', () => {
    assert.deepEqual(UNAVAILABLE_ACTIONS, {}, 'every action has an owner by default');
    const g = applySafety(d('start_election', 0.5), { ...safety, unavailable: { start_election: 'not available: no consensus actor here' } });
    assert.equal(g.verdict, 'refused');
    assert.match(g.reason!, /^not available/);
    assert.equal(applySafety(d('start_election', 0.5), safety).verdict, 'accepted');
  });

  it('refuses parameters outside their bounds', () => {
    assert.match(applySafety(d('scale_queue', 0.5), safety).reason!, /needs params\.capacity/);
    assert.equal(applySafety(scale(0.5, 2000), { ...safety, max_queue_capacity: 1000 }).verdict, 'refused');
    assert.equal(applySafety(scale(0.5, 1000), { ...safety, max_queue_capacity: 1000 }).verdict, 'accepted');
    assert.equal(applySafety(d('adjust_gossip', 0.5, { heartbeat_factor: 3 }), safety).verdict, 'refused');
    assert.equal(applySafety(d('adjust_gossip', 0.5, { heartbeat_factor: 0.5 }), safety).verdict, 'accepted');
  });

  it('holds a decision that changes something when its confidence is above require_confirmation_above', () => {
    const g = applySafety(scale(0.85), safety);
    assert.equal(g.verdict, 'held');
    assert.match(g.reason!, /needs confirmation/);
  });

  it('accepts at or below require_confirmation_above, and never holds wait', () => {
    assert.equal(applySafety(scale(0.8), safety).verdict, 'accepted');
    assert.equal(applySafety(scale(0.3), safety).reason, undefined);
    assert.equal(applySafety(d('wait', 0.9), safety).verdict, 'accepted');
  });

  it('caps confidence at max_confidence_threshold before the hold test', () => {
    const held = applySafety(scale(0.99), safety);
    assert.equal(held.decision.confidence, 0.95);
    assert.equal(held.verdict, 'held');
    const lowCap = applySafety(scale(0.99), { ...safety, max_confidence_threshold: 0.7 });
    assert.equal(lowCap.decision.confidence, 0.7);
    assert.equal(lowCap.verdict, 'accepted');
    assert.match(lowCap.reason!, /capped from 0\.99 to 0\.7/);
  });

  it('holds nothing when require_confirmation_above is 1', () => {
    assert.equal(applySafety(scale(1), { ...safety, max_confidence_threshold: 1, require_confirmation_above: 1 }).verdict, 'accepted');
  });

  it('treats a non-finite confidence as 0', () => {
    assert.equal(applySafety(scale(Number.NaN), safety).decision.confidence, 0);
  });
});
