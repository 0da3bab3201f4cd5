// A job end to end, as a user runs it: real `mvp-node` processes serving the generated test
// model, `mvp-node submit` as a light client on the network, `verify-receipt` on its output.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, spawnNode, listenPort, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';

const run = (args: string[]) => runCli(args);

describe('jobs across the network', () => {
  const nodes: NodeProcess[] = [];
  const peerIds: string[] = [];
  let boot = '';
  let dir = '';
  before(async () => {
    dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    // The test machine is busy by design; let the load manager claim anyway.
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    nodes.push(spawnNode(['-c', cfg, '--node-id', 'exec1', '--port', '0', '--data-dir', dir]));
    const port = await listenPort(nodes[0]!);
    boot = `/ip4/127.0.0.1/tcp/${port}`;
    nodes.push(spawnNode(['-c', cfg, '--node-id', 'exec2', '--port', '0', '--bootstrap', boot, '--data-dir', dir]));
    for (const n of nodes) {
      const l = await n.waitFor((x) => x.msg.startsWith('Node started'), 30_000, 'node start');
      peerIds.push(String(l.peer_id));
    }
    await nodes[1]!.waitFor((x) => x.msg === 'Peer announced', 20_000, 'the nodes to know each other');
  });
  after(async () => { await Promise.all(nodes.map((n) => n.stop('SIGKILL'))); });

  it('submit streams the tokens and ends with a receipt summary', async () => {
    const r = await run(['submit', '--bootstrap', boot, '--max-tokens', '16', '--temperature', '0', '--seed', '7', 'Hello']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0, 'tokens on stdout');
    const m = /^Receipt \S+: job [0-9a-f]{12}… ran on (\S+) \(mvp-test-tiny\), (\d+) tokens at [\d.]+ tokens\/s, status completed$/m.exec(r.stderr);
    assert.ok(m, `receipt summary on stderr: ${r.stderr}`);
    assert.ok(peerIds.includes(m[1]!), 'run by one of the network\'s nodes');
    assert.ok(Number(m[2]) >= 1 && Number(m[2]) <= 16);
  });

  it('submit --json gives text and a receipt that verify-receipt accepts, and rejects once tampered', async () => {
    const r = await run(['submit', '-b', boot, '--max-tokens', '12', '--json', 'What is a swarm?']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { text: string; receipt: { from: string; body: { status: string; tokens_out: number; executor: string } } };
    assert.equal(out.receipt.body.status, 'completed');
    assert.equal(out.receipt.from, out.receipt.body.executor);
    const file = join(dir, 'result.json');
    writeFileSync(file, r.stdout);
    const ok = await run(['verify-receipt', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /verified: executor/);
    writeFileSync(file, JSON.stringify({ ...out, text: `${out.text}!` }));
    const bad = await run(['verify-receipt', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: receipt verification failed: output_hash/m);
  });

  it('a job no node can run is refused with the reason, exit 1', async () => {
    const unknown = await run(['submit', '-b', boot, '--model', 'no-such-model', 'x']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^Error: no node serves model no-such-model \(the network serves: mvp-test-tiny\)$/m);
    const huge = await run(['submit', '-b', boot, '--max-tokens', '30000', 'x']);
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /^Error: max_tokens 30000 does not fit the context of any node serving mvp-test-tiny \(largest: 2048 tokens\)$/m);
    const hot = await run(['submit', '-b', boot, '--temperature', '5', 'x']);
    assert.equal(hot.code, 2);
    assert.match(hot.stderr, /temperature/);
  });

  it('with no node reachable in time, says so', async () => {
    const r = await run(['submit', '-b', '/ip4/127.0.0.1/tcp/9', '--timeout', '3', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Failed to dial bootstrap peer \/ip4\/127\.0\.0\.1\/tcp\/9: /m);
  });
});
