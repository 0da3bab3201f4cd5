// Adaptive consensus and the decision router: the response-threshold
// model, the passing threshold, rounds, and decisions that are never lost nor decided twice —
// on the pure book, on cores over the virtual-time bus under faults, and through the router.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import {
  passingThreshold, PASS_MAX, PASS_MIN, responseProbability, seededRandom, stimulus, ThresholdTable, THETA_MAX, THETA_MIN,
} from '../../src/actors/consensus/threshold.ts';
import { DecisionBook, type ConsensusResult, type ProposalInput, type QuorumView } from '../../src/actors/consensus/decisions.ts';
import {
  DistributedOrchestrator, needsConsensus, routeJob, selectStrategy, type RouterDeps,
} from '../../src/actors/consensus/router.ts';
import { DistributedOrchestratorConfig } from '../../src/actors/consensus/config.ts';
import type { DecisionProposalBody } from '../../src/protocol/index.ts';
import { OrchBus } from '../helpers/orch-bus.ts';

describe('response-threshold model', () => {
  it('T = s²/(s² + θ²): one half at s = θ, rising with s, falling with θ, in [0, 1)', () => {
    assert.equal(responseProbability(1, 1), 0.5);
    assert.equal(responseProbability(0, 1), 0);
    assert.ok(Math.abs(responseProbability(2, 1) - 0.8) < 1e-12);
    fc.assert(fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }), (s, th, d) => {
      const t = responseProbability(s, th);
      assert.ok(t >= 0 && t < 1);
      assert.ok(responseProbability(s + d, th) >= t - 1e-12);
      assert.ok(responseProbability(s, th + d) <= t + 1e-12);
    }));
  });

  it('stimulus grows with value, urgency and criticality, and doubles each round', () => {
    assert.equal(stimulus({ job_value: 10 }, 10, 1), 1);
    assert.equal(stimulus({ job_value: 10, critical: true }, 10, 1), 2);
    assert.equal(stimulus({ job_value: 10, urgency: 0.5 }, 10, 2), 3);
    assert.equal(stimulus({}, 10, 1), 0.1, 'a floor, so nothing is ignored forever');
  });

  it('θ falls when the node responds (it specialises) and rises when it does not (it forgets), within bounds', () => {
    const always = new ThresholdTable();
    for (let i = 0; i < 50; i++) assert.equal(always.respond('context', 1e6, () => 0), true);
    assert.equal(always.get('context'), THETA_MIN);
    const never = new ThresholdTable();
    for (let i = 0; i < 500; i++) assert.equal(never.respond('context', 1e-9, () => 0.999), false);
    assert.equal(never.get('context'), THETA_MAX);
    assert.equal(never.get('job_routing'), 1, 'per decision type');
  });

  it('the passing threshold starts at the base, rises with criticality, eases with poor health, never to half', () => {
    assert.equal(passingThreshold(0.6, 0, 1), 0.6);
    assert.ok(Math.abs(passingThreshold(0.6, 1, 1) - 0.7) < 1e-12);
    assert.ok(Math.abs(passingThreshold(0.6, 0, 0.5) - 0.55) < 1e-12);
    fc.assert(fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: -1, max: 2, noNaN: true }), fc.double({ min: -1, max: 2, noNaN: true }), (b, c, h) => {
      const t = passingThreshold(b, c, h);
      assert.ok(t >= PASS_MIN && t <= PASS_MAX);
    }));
  });
});

describe('consensus decisions (the book)', () => {
  const peers = ['a', 'b', 'c', 'd', 'e'];
  const view = (over: Partial<QuorumView> = {}): QuorumView => ({ electorate: peers, live: peers, health: 1, minority: false, ...over });
  const input = (id: string, over: Partial<ProposalInput> = {}): ProposalInput => ({
    id, group: 'swarm', decision_type: 'infrastructure', choice: 'scale_queue', confidence: 0.8, strategy: 'heuristic', critical: true, ...over,
  });
  const book = () => {
    const sent: Array<{ type: string; body: unknown }> = [];
    const b = new DecisionBook({ self: 'a', rounds: 3, roundMs: 1000, baseThreshold: 0.6, highValueThreshold: 10, rng: seededRandom(1), weight: () => 1 });
    return { b, sent, publish: (type: string, body: unknown) => { sent.push({ type, body }); } };
  };
  const vote = (id: string, agree: boolean) => ({ id, proposer: 'a', round: 1, agree });

  it('passes as soon as a majority responded and enough of them agree; later votes change nothing', () => {
    const { b, sent, publish } = book();
    assert.equal(b.propose(input('d1'), view(), 0, publish), undefined);
    assert.equal(sent[0]!.type, 'decision_proposal');
    assert.equal(b.onVote('b', vote('d1', true), 10, publish), undefined);
    const r = b.onVote('c', vote('d1', true), 20, publish)!;
    assert.equal(r.outcome, 'accepted');
    assert.equal(r.respondents, 3);
    assert.equal(r.quorum, 3);
    assert.ok(Math.abs(r.threshold - 0.7) < 1e-12, 'critical: base + 0.1');
    assert.equal(b.onVote('d', vote('d1', false), 30, publish), undefined, 'decided once');
    assert.equal(sent.filter((m) => m.type === 'decision_outcome').length, 1);
  });

  it('runs up to the configured rounds, louder each time, then ends without quorum', () => {
    const { b, sent, publish } = book();
    b.propose(input('d2'), view(), 0, publish);
    assert.deepEqual(b.tick(999, publish), []);
    assert.deepEqual(b.tick(1000, publish), []);
    assert.deepEqual(b.tick(2000, publish), []);
    const [r] = b.tick(3000, publish);
    assert.equal(r!.outcome, 'no_quorum');
    assert.equal(r!.reason, 'timeout');
    assert.equal(r!.rounds, 3);
    const stimuli = sent.filter((m) => m.type === 'decision_proposal').map((m) => (m.body as DecisionProposalBody).stimulus);
    assert.deepEqual(stimuli, [1, 2, 4], "critical, no value: s = 1, doubled per round");
  });

  it('rejects after the last round when the quorum disagrees', () => {
    const { b, publish } = book();
    b.propose(input('d3'), view(), 0, publish);
    b.onVote('b', vote('d3', false), 1, publish);
    b.onVote('c', vote('d3', false), 1, publish);
    for (const t of [1000, 2000]) b.tick(t, publish);
    const [r] = b.tick(3000, publish);
    assert.equal(r!.outcome, 'rejected');
    assert.ok(Math.abs(r!.share - 1 / 3) < 1e-12);
  });

  it('a minority side refuses at once, asking nobody', () => {
    const { b, sent, publish } = book();
    const r = b.propose(input('d4'), view({ live: ['a', 'b'], minority: true, health: 0.4 }), 0, publish)!;
    assert.equal(r.outcome, 'no_quorum');
    assert.equal(r.reason, 'minority');
    assert.equal(sent.length, 0);
  });

  it('a voter answers with probability T, once per proposal, and keeps the first outcome of an id', () => {
    const { b, sent, publish } = book();
    const p: DecisionProposalBody = { id: 'x1234567', group: 'swarm', decision_type: 'context', round: 1, rounds: 3, stimulus: 1e6, critical: true, choice: 'wait', confidence: 1, strategy: 'heuristic' };
    b.onProposal('z', p, true, () => true, publish);
    b.onProposal('z', p, true, () => true, publish);
    b.onProposal('z', { ...p, round: 2 }, true, () => true, publish);
    assert.equal(sent.length, 1, 'voted once');
    b.onProposal('z', { ...p, id: 'x7654321' }, false, () => true, publish);
    assert.equal(sent.length, 1, 'not a member of the group: no vote');
    const entry = { id: 'x1234567', group: 'swarm', decision_type: 'context' as const, outcome: 'accepted' as const, choice: 'wait', share: 1, threshold: 0.7, rounds: 1, respondents: 3, decided_at: 5 };
    b.onOutcomes('z', [entry]);
    b.onOutcomes('z', [{ ...entry, outcome: 'rejected' }]);
    assert.equal(b.outcome('x1234567')?.entry.outcome, 'accepted');
    assert.equal(b.counts.conflicting_outcomes, 1);
  });
});

describe('consensus decisions across cores', () => {
  // Never lost, never decided twice: every proposal of a node that stays up ends in exactly one
  // result, whatever the faults; no node ever holds two outcomes for one id.
  it('every decision ends in exactly one result, under crashes, partitions and loss', () => {
    fc.assert(fc.property(
      fc.integer({ min: 3, max: 6 }), fc.integer({ min: 1, max: 100_000 }),
      fc.array(fc.record({ node: fc.nat(), at: fc.integer({ min: 0, max: 20_000 }), critical: fc.boolean(), value: fc.integer({ min: 0, max: 30 }) }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.record({ kind: fc.constantFrom('crash', 'restart', 'partition', 'heal', 'loss'), node: fc.nat(), at: fc.integer({ min: 0, max: 20_000 }) }), { maxLength: 10 }),
      (n, seed, proposals, faults) => {
        const bus = new OrchBus({ nodes: n, seed });
        bus.run(12_000);
        const t0 = bus.now;
        const proposed = new Map<string, { node: number; restartsAfter: boolean }>();
        const schedule = [
          ...proposals.map((p, k) => ({ at: p.at, run: () => {
            const i = p.node % n;
            if (!bus.up(i)) return;
            const id = `dec${String(k).padStart(5, '0')}`;
            proposed.set(id, { node: i, restartsAfter: false });
            bus.core(i).propose(bus.now, { id, group: 'swarm', decision_type: 'infrastructure', choice: 'wait', confidence: 0.9, strategy: 'heuristic', critical: p.critical, job_value: p.value });
          } })),
          ...faults.map((f) => ({ at: f.at, run: () => {
            const i = f.node % n;
            if (f.kind === 'crash') { bus.crash(i); for (const v of proposed.values()) if (v.node === i) v.restartsAfter = true; }
            else if (f.kind === 'restart') bus.start(i);
            else if (f.kind === 'partition') bus.partition(bus.nodes.map((_, j) => (j <= i ? 0 : 1)));
            else if (f.kind === 'heal') bus.heal();
            else bus.loss = 0.3;
          } })),
        ].sort((a, b) => a.at - b.at);
        for (const s of schedule) { bus.run(Math.max(0, t0 + s.at - bus.now)); s.run(); }
        bus.run(3 * 1000 + 2000); // the last round of the last proposal has ended
        const results = new Map<string, ConsensusResult[]>();
        for (const node of bus.nodes) for (const e of node.events) if (e.kind === 'decided') results.set(e.result.id, [...(results.get(e.result.id) ?? []), e.result]);
        for (const [id, p] of proposed) {
          const rs = results.get(id) ?? [];
          assert.ok(rs.length <= 1, `${id} decided ${rs.length} times`);
          if (!p.restartsAfter) assert.equal(rs.length, 1, `${id} was lost`);
          for (const r of rs) if (r.outcome === 'accepted') assert.ok(r.respondents >= r.quorum && r.share >= r.threshold);
        }
        for (let i = 0; i < n; i++) if (bus.up(i)) assert.equal(bus.core(i).decisions.counts.conflicting_outcomes, 0);
      },
    ), { numRuns: 40 });
  });

  it('a healthy group passes a critical decision, and the outcome reaches every member', () => {
    const bus = new OrchBus({ nodes: 5, seed: 9 });
    bus.run(12_000);
    bus.core(1).propose(bus.now, { id: 'crit0001', group: 'swarm', decision_type: 'infrastructure', choice: 'wait', confidence: 0.9, strategy: 'heuristic', critical: true });
    bus.run(4000);
    const r = bus.nodes[1]!.events.find((e) => e.kind === 'decided');
    assert.equal(r?.kind === 'decided' && r.result.outcome, 'accepted');
    for (let i = 0; i < 5; i++) assert.ok(bus.core(i).decisions.outcome('crit0001'), `node ${i} knows the outcome`);
  });
});

describe('decision router', () => {
  const t = { mode: 'emergent' as const, high_value_threshold: 10, complexity_threshold: 0.7 };

  it('picks heuristic, hybrid or LLM by value and complexity, and consensus for critical, high-value or fully decentralized', () => {
    assert.equal(selectStrategy({ job_value: 1, complexity_score: 0.2 }, t), 'heuristic');
    assert.equal(selectStrategy({ job_value: 10, complexity_score: 0.2 }, t), 'hybrid');
    assert.equal(selectStrategy({ job_value: 1, complexity_score: 0.9 }, t), 'hybrid');
    assert.equal(selectStrategy({ job_value: 12, complexity_score: 0.9 }, t), 'llm');
    assert.equal(selectStrategy({}, t), 'heuristic');
    assert.equal(needsConsensus({ is_critical: false, job_value: 1 }, t), false);
    assert.equal(needsConsensus({ is_critical: true }, t), true);
    assert.equal(needsConsensus({ job_value: 10 }, t), true);
    assert.equal(needsConsensus({}, { ...t, mode: 'fully_decentralized' }), true);
  });

  it('routes a job as the job path ranks claims: a free slot, earliest start, shortest queue; never to a node known dead', () => {
    const known = { dead: (p: string) => p === 'dead-one', affinity: () => 0.5 };
    const r = routeJob([
      { peer_id: 'dead-one', capacity: 9, est_start_ms: 0 }, { peer_id: 'full', capacity: 0, est_start_ms: 0 },
      { peer_id: 'slow', capacity: 4, est_start_ms: 500 }, { peer_id: 'fast', capacity: 1, est_start_ms: 0 },
    ], known)!;
    assert.equal(r.choice, 'fast');
    assert.equal(r.confidence, 0.9);
    assert.match(r.reasoning, /3 live claimant\(s\), 1 known dead skipped/);
    assert.equal(routeJob([{ peer_id: 'dead-one' }], known), undefined);
  });

  const deps = (over: Partial<RouterDeps> = {}): RouterDeps => {
    let now = 1000;
    return {
      thresholds: t, now: () => (now += 5), newId: () => `id${now}`,
      consensus: async (input) => ({
        id: input.id, group: input.group, decision_type: input.decision_type, outcome: 'accepted', choice: input.choice, share: 1, threshold: 0.7,
        quorum: 1, electorate: 1, rounds: 1, respondents: 1, agreeing: 1, started_at: now, decided_at: now,
      }),
      placement: () => ({ group: 'swarm', epoch: 3 }),
      known: { dead: () => false, affinity: () => 0.5 },
      ...over,
    };
  };

  it('falls back to the heuristic when no LLM answers, says why, and counts it', async () => {
    const o = new DistributedOrchestrator(deps({ llm: async () => { throw new Error('orchestrator down'); } }));
    const d = await o.makeDistributedDecision({ job_value: 20, complexity_score: 0.9, description: 'queue full' }, 'infrastructure');
    assert.equal(d.strategy_selected, 'llm');
    assert.equal(d.strategy_used, 'heuristic');
    assert.match(d.fallback!, /orchestrator down/);
    assert.equal(d.path, 'consensus', 'high value');
    assert.equal(d.agreed, true);
    assert.equal(d.latency_ms, 5, "from the injected clock");
    assert.equal(o.counters().by_strategy.heuristic.fallbacks, 1);
    assert.equal(o.counters().consensus.accepted, 1);
  });

  it('uses the LLM when it answers as an LLM; hybrid combines it with the heuristic', async () => {
    const llm = async () => ({ choice: 'scale_queue', params: {}, confidence: 0.95, reasoning: 'model says so', source: 'llm' });
    const o = new DistributedOrchestrator(deps({ llm }));
    const a = await o.makeDistributedDecision({ job_value: 20, complexity_score: 0.9 }, 'infrastructure');
    assert.equal(a.strategy_used, 'llm');
    assert.equal(a.decision.choice, 'scale_queue');
    const h = await o.makeDistributedDecision({ job_value: 1, complexity_score: 0.9, metrics: { queue_depth: 0, queue_capacity: 100, cpu: 0.1, mem_free_mb: 8000, peers: 3 } }, 'infrastructure');
    assert.equal(h.strategy_used, 'hybrid');
    assert.equal(h.path, 'local');
    assert.equal(h.decision.choice, 'scale_queue', 'the more confident LLM answer stands');
    const heuristicOnly = new DistributedOrchestrator(deps({ llm: async () => ({ ...(await llm()), source: 'heuristic' }) }));
    const f = await heuristicOnly.makeDistributedDecision({ job_value: 20, complexity_score: 0.9 }, 'infrastructure');
    assert.equal(f.strategy_used, 'heuristic');
    assert.match(f.fallback!, /answered by heuristic/);
  });

  it('the seed\'s config names: default() and simulation() / isSimulation()', () => {
    const d = DistributedOrchestratorConfig.default();
    assert.equal(d.isSimulation(), false);
    assert.equal(d.keys.mode, 'emergent');
    assert.equal(d.keys.base_consensus_threshold, 0.6);
    const s = DistributedOrchestratorConfig.simulation({ heartbeat_timeout_secs: 3 }, 42);
    assert.equal(s.isSimulation(), true);
    assert.equal(s.simulationSettings?.seed, 42);
    assert.equal(s.core().heartbeat_timeout_ms, 3000);
  });
});
