// What a node keeps across restarts, on real processes: the peers it knew (it rejoins without a
// bootstrap address), the block list; and a damaged store refused at start with the command that
// repairs it, after which it starts again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';

describe('store: a node restarted on its data directory', () => {
  const dir = tmpDir('mvp-store-restart-');
  const cfg = join(dir, 'node.toml');
  writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
  const running: NodeProcess[] = [];
  const start = (id: string, extra: string[] = []) => {
    const n = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--data-dir', dir, ...extra]);
    running.push(n);
    return n;
  };
  const apiOf = async (n: NodeProcess) => String((await n.waitFor((l) => l.msg.startsWith('API listening on'), 90_000, 'the API')).url);
  let a: NodeProcess;
  let aPeer = '';
  let boot = '';

  before(async () => {
    a = start('a');
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(a)}`;
    aPeer = String((await a.waitFor((l) => l.msg.startsWith('Node started'), 90_000, 'a started')).peer_id);
  });
  after(async () => { await Promise.all(running.map((n) => n.stop('SIGKILL'))); });

  it('dials the peers it knew without a bootstrap address, and keeps its block list', async () => {
    let b = start('b', ['--bootstrap', boot]);
    await b.waitFor((l) => l.msg === 'Peer connected' && l.peer === aPeer, 90_000, 'b to reach a');
    const blocked = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const res = await fetch(`${await apiOf(b)}/peers/${blocked}/block`, { method: 'POST' });
    assert.equal(res.status, 200);
    // Known peers are saved every 10 s.
    await new Promise((r) => setTimeout(r, 12_000));
    assert.equal(await b.stop('SIGTERM'), 0);

    b = start('b');
    await b.waitFor((l) => l.msg === 'Dialling peers known from the store', 90_000, 'b to dial the peers it knew');
    await b.waitFor((l) => l.msg === 'Peer connected' && l.peer === aPeer, 60_000, 'b to reach a again, with no bootstrap address');
    const list = await (await fetch(`${await apiOf(b)}/peers/blocked`)).json() as Array<{ peer_id: string }>;
    assert.deepEqual(list.map((p) => p.peer_id), [blocked]);
    assert.equal(await b.stop('SIGTERM'), 0);
  });

  it('refuses a damaged store at start, naming the file and the repair command; data repair lets it start', async () => {
    const current = join(dir, 'b', 'store', 'CURRENT');
    assert.ok(existsSync(current), 'b has a store');
    unlinkSync(current);
    const b = start('b');
    assert.equal(await b.exited, 1);
    assert.match(b.stderr(), /Error: Store .* is incomplete: .*CURRENT is missing/);
    assert.match(b.stderr(), /mvp-node data repair --data-dir .* --node-id b/);
    const check = await runCli(['data', 'check', '--data-dir', dir, '--node-id', 'b']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /CURRENT is missing/);
    const repair = await runCli(['data', 'repair', '--data-dir', dir, '--node-id', 'b']);
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /is healthy/);
    const again = start('b');
    await again.waitFor((l) => l.msg.startsWith('Node started'), 90_000, 'b to start after the repair');
    const list = await (await fetch(`${await apiOf(again)}/peers/blocked`)).json() as unknown[];
    assert.equal(list.length, 1, 'the block list came through the repair');
  });
});
