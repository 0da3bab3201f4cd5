// The virtual-time simulator: reproducible from its seed, invariants held
// under generated fault schedules, the placement comparison's basic ordering, the CLI.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from '../helpers/property.ts';
import { VirtualClock } from '../../src/sim/clock.ts';
import { defaultScenario, SIM_CORE_CONFIG, simulate, type Fault, type Scenario } from '../../src/sim/cluster.ts';
import { comparePlacements, generateWorkload, runPlacement } from '../../src/sim/placement.ts';
import { parseScenario, ScenarioError } from '../../src/sim/scenario.ts';
import { runCli } from '../helpers/proc.ts';

function small(nodes: number, seed: number, faults: Fault[], extra: Partial<Scenario> = {}): Scenario {
  return { ...defaultScenario(nodes, seed), duration_ms: 45_000, drain_ms: 14_000, job_rate: 4, decision_rate: 0.5, config: { ...SIM_CORE_CONFIG }, faults, ...extra };
}

describe('virtual clock', () => {
  it('fires events in time order, ties in insertion order', () => {
    const c = new VirtualClock(0);
    const seen: string[] = [];
    c.at(30, () => seen.push('c'));
    c.at(10, () => { seen.push('a'); c.after(5, () => seen.push('a+5')); });
    c.at(10, () => seen.push('b'));
    c.runUntil(100);
    assert.deepEqual(seen, ['a', 'b', 'a+5', 'c']);
    assert.equal(c.now, 100);
  });
});

describe('reproducible from the seed', () => {
  it('same seed, same report byte for byte; another seed, another run', () => {
    const a = JSON.stringify(simulate(defaultScenario(10, 42)));
    const b = JSON.stringify(simulate(defaultScenario(10, 42)));
    const c = JSON.stringify(simulate(defaultScenario(10, 43)));
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('heartbeats scoped to the council (the 10 000-node mechanism, at 200 nodes with a council of 7): same seed, same report; invariants hold; O(council) heartbeats per node', () => {
    const council = 7;
    const sc: Scenario = {
      ...defaultScenario(200, 5), join_ms: 3000, duration_ms: 40_000, drain_ms: 10_000, job_rate: 20, config: { ...SIM_CORE_CONFIG, council_size: council },
      faults: [{ at_ms: 11_000, kind: 'kill', node: 'coordinator' }, { at_ms: 18_000, kind: 'partition', fraction: 0.3 }, { at_ms: 25_000, kind: 'heal' }],
    };
    const a = simulate(sc);
    assert.equal(JSON.stringify(a), JSON.stringify(simulate(sc)));
    assert.deepEqual(a.invariants.violations, []);
    assert.ok(a.elections[0]?.agreed_after_ms !== undefined && a.partitions[0]?.converged_after_ms !== undefined, JSON.stringify([a.elections, a.partitions]));
    assert.equal(a.jobs.lost, 0);
    // Every node hearing every node would be N(N − 1) deliveries per heartbeat period (T/3).
    const periods = sc.duration_ms / (sc.config.heartbeat_timeout_ms / 3);
    assert.ok(a.messages.by_type.heartbeat! < 3 * (council + 1) * sc.nodes * periods, `${a.messages.by_type.heartbeat} heartbeat deliveries`);
  });

  it('placement runs too', () => {
    const w = generateWorkload({ nodes: 50, seed: 9, load: 0.8, jobs: 2000 });
    assert.deepEqual(runPlacement(w, 'threshold'), runPlacement(generateWorkload({ nodes: 50, seed: 9, load: 0.8, jobs: 2000 }), 'threshold'));
  });
});

describe('invariants under generated fault schedules', () => {
  it('no job lost, no duplicate completion, one coordinator per group per epoch, convergence after heal', () => {
    const fault = fc.oneof(
      fc.record({ at_ms: fc.integer({ min: 5_000, max: 14_000 }), kind: fc.constant('kill' as const), node: fc.oneof(fc.constant('coordinator' as const), fc.integer({ min: 0, max: 6 })) }),
      fc.record({ at_ms: fc.integer({ min: 5_000, max: 30_000 }), kind: fc.constant('delay' as const), extra_ms: fc.integer({ min: 0, max: 400 }), duration_ms: fc.integer({ min: 100, max: 4_000 }) }),
      fc.record({ at_ms: fc.integer({ min: 5_000, max: 30_000 }), kind: fc.constant('loss' as const), rate: fc.double({ min: 0, max: 0.3, noNaN: true }), duration_ms: fc.integer({ min: 100, max: 4_000 }) }),
      fc.record({ at_ms: fc.integer({ min: 5_000, max: 30_000 }), kind: fc.constant('decision' as const), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ at_ms: fc.integer({ min: 5_000, max: 30_000 }), kind: fc.constant('kill_actor' as const), node: fc.oneof(fc.constant('coordinator' as const), fc.integer({ min: 0, max: 6 })), actor: fc.constant('consensus') }),
    );
    fc.assert(fc.property(
      fc.integer({ min: 7, max: 10 }), fc.integer({ min: 0, max: 1_000_000 }),
      fc.array(fault, { maxLength: 5 }).filter((fs) => fs.filter((f) => f.kind === 'kill').length <= 2),
      fc.option(fc.record({ from: fc.integer({ min: 15_000, max: 18_000 }), len: fc.integer({ min: 1_000, max: 8_000 }), fraction: fc.double({ min: 0.1, max: 0.45, noNaN: true }) }), { nil: undefined }),
      (nodes, seed, faults, part) => {
        const all: Fault[] = [...faults];
        if (part) all.push({ at_ms: part.from, kind: 'partition', fraction: part.fraction }, { at_ms: part.from + part.len, kind: 'heal' });
        const r = simulate(small(nodes, seed, all));
        assert.deepEqual(r.invariants.violations, [], JSON.stringify({ nodes, seed, all }));
        assert.equal(r.jobs.lost, 0);
        assert.equal(r.jobs.completed + r.jobs.in_flight_at_end + r.jobs.orphaned_by_submitter_death, r.jobs.submitted);
      },
    ), { numRuns: 16, seed: 20261126 });
  });
});

describe('placement comparison', () => {
  it('the threshold model beats random and power-of-two with ≤ 2·log₂N messages per job', () => {
    const rows = comparePlacements({ nodes: 100, seed: 3, load: 0.8, jobs: 6000 });
    const by = Object.fromEntries(rows.map((r) => [r.policy, r]));
    assert.ok(by.threshold!.mean_ms < by.random!.mean_ms, JSON.stringify(rows));
    assert.ok(by.threshold!.mean_ms < by.power_of_two!.mean_ms, JSON.stringify(rows));
    assert.ok(by.threshold!.messages_per_job <= 2 * Math.log2(100), JSON.stringify(by.threshold));
    assert.equal(by.omniscient!.mean_x, 1);
  });

  it('the placement target: ≤ 1.2× the omniscient mean at load 0.8 on 500 nodes, with ≤ 2·log₂N messages per job', () => {
    for (const seed of [1, 2]) {
      const [omni, th] = comparePlacements({ nodes: 500, seed, load: 0.8, jobs: 40_000 }, {}, ['omniscient', 'threshold']);
      assert.ok(th!.mean_ms <= 1.2 * omni!.mean_ms, `seed ${seed}: ${JSON.stringify(th)}`);
      assert.ok(th!.messages_per_job <= 2 * Math.log2(500), JSON.stringify(th));
    }
  });
});

describe('scenarios', () => {
  it('parses the example and rejects unknown keys and kinds', async () => {
    const { readFile } = await import('node:fs/promises');
    const sc = parseScenario(await readFile(new URL('../../examples/simulate-scenario.toml', import.meta.url), 'utf8'), { nodes: 12 });
    assert.equal(sc.nodes, 12);
    assert.equal(sc.seed, 7);
    assert.equal(sc.config.heartbeat_timeout_ms, 3000);
    assert.ok(sc.faults.some((f) => f.kind === 'partition'));
    assert.throws(() => parseScenario('bogus = 1'), ScenarioError);
    assert.throws(() => parseScenario('[[fault]]\nat_secs = 1\nkind = "meteor"'), ScenarioError);
  });
});

describe('mvp-node simulate', () => {
  it('runs 20 nodes in virtual time and reports', async () => {
    const r = await runCli(['simulate', '--nodes', '20', '--seed', '5', '--virtual', '--json'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { nodes: number; invariants: { ok: boolean }; per_node: unknown[] };
    assert.equal(report.nodes, 20);
    assert.equal(report.invariants.ok, true);
    assert.equal(report.per_node.length, 20);
  });

  it('exits non-zero on a bad scenario', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const bad = join(dir, 'bad.toml');
    await writeFile(bad, '[[fault]]\nat_secs = 1\nkind = "meteor"\n');
    const r = await runCli(['simulate', '--virtual', '--scenario', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /kind must be/);
  });

  it('real-node mode: 4 full nodes over the memory transport running real jobs, a partition by connection gating healed, gossip loss', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const file = join(dir, 'real.toml');
    await writeFile(file, [
      'duration_secs = 12', 'drain_secs = 2', 'decision_rate = 1', '[distributed_orchestration]', 'heartbeat_timeout_secs = 2',
      '[[fault]]', 'at_secs = 1', 'kind = "partition"', 'fraction = 0.25', '[[fault]]', 'at_secs = 6', 'kind = "heal"',
      '[[fault]]', 'at_secs = 7', 'kind = "kill_actor"', 'node = 2', '[[fault]]', 'at_secs = 8', 'kind = "loss"', 'rate = 0.2', 'duration_secs = 2', '',
    ].join('\n'));
    const r = await runCli(['simulate', '--nodes', '4', '--scenario', file, '--json'], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      mode: string; invariants: { ok: boolean; violations: string[] }; per_node: Array<{ up: boolean; coordinator?: string }>;
      partitions: Array<{ detected_after_ms?: number; converged_after_ms?: number }>;
      skipped_faults: string[];
      jobs: { submitted: number; completed: number; refused: number; lost: number; receipts: { held_by_all_live: number; conflicting: number } };
    };
    assert.equal(report.mode, 'real');
    assert.deepEqual(report.invariants.violations, []);
    assert.equal(new Set(report.per_node.map((n) => n.coordinator)).size, 1);
    assert.ok(report.partitions[0]!.detected_after_ms !== undefined, JSON.stringify(report.partitions));
    assert.ok(report.partitions[0]!.converged_after_ms !== undefined, JSON.stringify(report.partitions));
    assert.deepEqual(report.skipped_faults, [], 'loss is applied, not skipped');
    const j = report.jobs;
    assert.ok(j.submitted > 0 && j.completed > 0, JSON.stringify(j));
    assert.equal(j.lost, 0);
    assert.equal(j.receipts.conflicting, 0);
  });
});
