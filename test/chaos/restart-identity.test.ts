// Chaos scenario: restart with identity. Stop a node of a running network (SIGTERM,
// graceful) and start it again with the same data directory: it keeps its PeerId, the others
// take it back, and it serves jobs again. Also after kill -9 (stale lock from a dead process).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { record, secs } from './report.ts';

describe('chaos: restart with identity', () => {
  const nodes = new Map<string, NodeProcess>();
  let dir = '';
  let cfg = '';
  let boot = '';
  const start = (id: string, extra: string[] = []) => {
    const n = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--data-dir', dir, ...extra]);
    nodes.set(id, n);
    return n;
  };
  before(async () => {
    dir = tmpDir();
    cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(start('r1'))}`;
    start('r2', ['--bootstrap', boot]);
    start('r3', ['--bootstrap', boot]);
    for (const [id, n] of nodes) {
      for (const other of [...nodes.keys()].filter((o) => o !== id)) {
        await n.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === other, 60_000, `${id} to hear ${other}`);
      }
    }
  });
  after(async () => { await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL'))); });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`after ${signal}, the node comes back with the same PeerId and is taken back by its peers`, async () => {
      const old = nodes.get('r3')!;
      const peerId = String((await old.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'r3 started')).peer_id);
      const code = await old.stop(signal);
      if (signal === 'SIGTERM') assert.equal(code, 0, 'graceful stop');
      const t0 = performance.now();
      const since = Date.now();
      const again = start('r3', ['--bootstrap', boot]);
      const started = await again.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'r3 to start again');
      assert.equal(String(started.peer_id), peerId, 'same PeerId');
      const back = async (id: string) => {
        await nodes.get(id)!.waitFor((l) => l.msg === 'Peer connected' && l.peer === peerId && Number(l.time) >= since, 60_000, `${id} to reconnect r3`);
      };
      await Promise.all([back('r1'), ...['r1', 'r2'].map((o) => again.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === o, 60_000, `r3 to hear ${o}`))]);
      const rejoined = performance.now();
      const job = await runCli(['submit', '-b', boot, '--max-tokens', '8', '--temperature', '0', '--json', 'back again?']);
      assert.equal(job.code, 0, job.stderr);
      record('restart-identity', { stop: signal, same_peer_id: true, rejoin_s: secs(t0, rejoined), job_after_restart: 'completed' });
    });
  }
});
