// Chaos scenario: a partition over real TCP. Four `mvp-node` processes, two per
// side, each in its own network namespace; the sides' bridges are joined by one veth pair.
// Cut that link (`ip link set down`), let both sides run (each side still serves jobs), heal it,
// and measure how long each side takes to notice (peers expired) and to converge again (every
// node knows every other). Needs root (CI runs as root).
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, spawnNode, type LogLine, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { describeNeeding, netnsMissing } from '../helpers/needs.ts';
import { SplitNetwork } from './netns.ts';
import { record, secs } from './report.ts';

const HEARTBEAT_TIMEOUT_S = 6;
const PORT = 4001;
const net = new SplitNetwork([['a1', 'a2'], ['b1', 'b2']]);
const addr = (name: string) => `/ip4/${net.host(name).ip}/tcp/${PORT}`;
const inNs = (name: string) => ['ip', 'netns', 'exec', net.host(name).ns];

describeNeeding('chaos: partition over real TCP', netnsMissing(), () => {
  const nodes = new Map<string, NodeProcess>();
  /** Expiries are matched by peer id: an entry re-created by a heartbeat after an earlier expiry has no manifest (no node id) yet. */
  const peerIds = new Map<string, string>();
  let dir = '';
  before(async () => {
    net.create();
    dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, `[executor]\nmax_load_per_core = 1000\n[distributed_orchestration]\nheartbeat_timeout_secs = ${HEARTBEAT_TIMEOUT_S}\n`);
    for (const h of net.hosts) {
      const boot = h.name === 'a1' ? [] : ['--bootstrap', addr('a1')];
      nodes.set(h.name, spawnNode(['-c', cfg, '--node-id', h.name, '--port', String(PORT), '--data-dir', dir, ...boot], {}, inNs(h.name)));
    }
    await Promise.all([...nodes].map(([name, n]) => knowsAll(name, n, 0, 60_000)));
    for (const [name, n] of nodes) peerIds.set(name, String((await n.waitFor((l) => l.msg.startsWith('Node started'), 60_000, `${name} to start`)).peer_id));
  });
  after(async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL')));
    net.destroy();
  });

  /** Resolves when `n` has announced every other node at or after `since` (ms epoch). */
  function knowsAll(name: string, n: NodeProcess, since: number, timeoutMs: number, only?: (other: string) => boolean) {
    const others = [...nodes.keys()].filter((o) => o !== name && (only?.(o) ?? true));
    return Promise.all(others.map((o) => n.waitFor((l: LogLine) => l.msg === 'Peer announced' && l.peer_node_id === o && Number(l.time) >= since,
      timeoutMs, `${name} to hear ${o}`)));
  }

  it('both sides detect the cut, keep serving jobs, and converge after the heal', async () => {
    const side = (name: string) => net.host(name).side;
    const cutAt = Date.now();
    const t0 = performance.now();
    net.link(false);
    // Detection: every node expires every node of the other side.
    const detected = await Promise.all([...nodes].map(async ([name, n]) => {
      const other = [...nodes.keys()].filter((o) => side(o) !== side(name));
      await Promise.all(other.map((o) => n.waitFor((l) => l.msg.startsWith('Peer expired') && l.peer === peerIds.get(o) && Number(l.time) >= cutAt,
        60_000, `${name} to expire ${o}`)));
      return performance.now();
    }));
    const detectedAll = Math.max(...detected);

    // Each side keeps working on its own: a job submitted on either side completes there.
    const jobs = await Promise.all(['a2', 'b2'].map((name) =>
      runCli(['submit', '-b', addr(name), '--max-tokens', '8', '--temperature', '0', '--timeout', '60', '--json', `partitioned ${name}`], 90_000, inNs(name))));
    const receipts = jobs.map((r, i) => {
      assert.equal(r.code, 0, `job on side ${i}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { receipt: { id: string; from: string; body: { job_id: string } } };
      assert.ok(out.receipt.from, 'a signed receipt');
      return out.receipt;
    });

    const healAt = Date.now();
    const t1 = performance.now();
    net.link(true);
    await Promise.all([...nodes].map(([name, n]) => knowsAll(name, n, healAt, 120_000, (o) => side(o) !== side(name))));
    const converged = performance.now();
    // Receipts put in the DHT on one side while cut are put again by their executor when the link
    // comes back (its republish on reconnection), so every replica is up to date; and any node
    // fetches both, the same, by job id (its own copy, else a DHT lookup; asked through
    // `mvp-node jobs`, so the time includes starting that command).
    const held = async (name: string, jobId: string) => {
      const r = await runCli(['jobs', jobId, '--json', '--node-id', name, '--data-dir', dir], 30_000, inNs(name));
      return r.code === 0 ? (JSON.parse(r.stdout) as { receipt: { id: string } | null }).receipt?.id : undefined;
    };
    await Promise.all([...nodes.keys()].flatMap((name) => receipts.map(async (receipt) => {
      const deadline = Date.now() + 30_000;
      let id = await held(name, receipt.body.job_id);
      while (id === undefined && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 500)); id = await held(name, receipt.body.job_id); }
      assert.equal(id, receipt.id, `${name} fetches the receipt of the job run across the cut`);
    })));
    const receiptsSynced = performance.now();

    record('partition', {
      nodes: nodes.size,
      heartbeat_timeout_s: HEARTBEAT_TIMEOUT_S,
      detect_first_s: secs(t0, Math.min(...detected)),
      detect_all_s: secs(t0, detectedAll),
      jobs_during_partition: `${jobs.filter((r) => r.code === 0).length}/${jobs.length}`,
      heal_converge_s: secs(t1, converged),
      receipts_everywhere_s: secs(t1, receiptsSynced),
    });
  });
});
