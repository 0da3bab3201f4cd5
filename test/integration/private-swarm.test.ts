// Private swarms over TCP between real processes: two members share a swarm key (libp2p pnet)
// and connect; an outsider without a key and one with another key cannot connect nor hear the
// swarm's gossip. The wrong key shows as a handshake failure right after the key exchange,
// logged and counted on both sides. Clients join with the key (`submit --swarm-key`, the
// gateway's light client, the submit-job example) and not without it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listenPort, runCli, spawnNode, type LogLine, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { get, parseMetrics, post, sample } from '../helpers/api.ts';
import { parseSwarmKey } from '../../src/actors/network/swarm-key.ts';

const MISMATCH = (l: LogLine) => l.msg.startsWith('Handshake failed right after the swarm key exchange');

describe('a private swarm (network.swarm_key)', () => {
  const procs: NodeProcess[] = [];
  let dir = '';
  let keyA = '';
  let boot = '';
  let member1: NodeProcess;
  let member2: NodeProcess;
  let noKey: NodeProcess;
  let wrongKey: NodeProcess;

  before(async () => {
    dir = tmpDir();
    keyA = join(dir, 'a.key');
    const keyB = join(dir, 'b.key');
    for (const k of [keyA, keyB]) {
      const r = await runCli(['swarm-key', 'generate', '--out', k]);
      assert.equal(r.code, 0, r.stderr);
    }
    // The file is a valid libp2p swarm key, readable by its owner only.
    parseSwarmKey(readFileSync(keyA), keyA);
    const model = await testModelPath('tiny');
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n[monitoring]\nhealth_check_interval_secs = 1\n');
    const start = (id: string, key: string | undefined, extra: string[] = []) => {
      const n = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--model', model, '--data-dir', dir, ...extra], key ? { MVP_NODE_SWARM_KEY: key } : {});
      procs.push(n);
      return n;
    };
    member1 = start('member1', keyA);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(member1)}`;
    member2 = start('member2', keyA, ['--bootstrap', boot]);
    noKey = start('outsider-nokey', undefined, ['--bootstrap', boot]);
    wrongKey = start('outsider-wrongkey', keyB, ['--bootstrap', boot]);
    for (const n of procs) await n.waitFor((l) => l.msg.startsWith('Node started'), 90_000, 'node start');
  });
  after(async () => { await Promise.all(procs.map((n) => n.stop('SIGKILL'))); });

  it('members with the key connect and hear each other', async () => {
    await member2.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'member1', 30_000, 'member2 to hear member1');
    await member1.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'member2', 30_000, 'member1 to hear member2');
  });

  it('a wrong key fails the handshake, logged as a suspected key mismatch on both sides and counted in /metrics', async () => {
    await wrongKey.waitFor(MISMATCH, 30_000, 'the outsider with another key to suspect a key mismatch');
    await member1.waitFor(MISMATCH, 30_000, 'member1 to suspect a key mismatch');
    const api = JSON.parse(readFileSync(join(dir, 'member1', 'api.json'), 'utf8')) as { url: string };
    const m = await parseMetrics((await get<string>(`${api.url}/metrics`)).body);
    assert.ok((sample(m, 'mvp_swarm_key_mismatches_total') ?? 0) >= 1, 'counted on the member');
    assert.equal(sample(m, 'mvp_swarm_private'), 1);
  });

  it('outsiders connect to nobody and hear none of the swarm\'s gossip', async () => {
    // Several health checks (one a second) after the members have met: still alone.
    await member1.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'member2', 30_000, 'the members to meet');
    for (const outsider of [noKey, wrongKey]) {
      const checks = await new Promise<LogLine[]>((resolve) => {
        const t = setInterval(() => {
          const h = outsider.lines.filter((l) => l.msg === 'Health check');
          if (h.length >= 3) { clearInterval(t); resolve(h); }
        }, 200);
      });
      for (const h of checks) assert.deepEqual([h.peers, h.known_peers], [0, 0], `${String(h.node_id)} stays alone`);
      assert.equal(outsider.lines.some((l) => l.msg === 'Peer announced' || l.msg === 'Connected to bootstrap peer'), false);
    }
    for (const member of [member1, member2]) {
      assert.equal(member.lines.some((l) => l.msg === 'Peer announced' && String(l.peer_node_id).startsWith('outsider')), false, 'no outsider reached a member');
    }
  });

  it('a client joins with --swarm-key, and not without it', async () => {
    const withKey = await runCli(['submit', '-b', boot, '--swarm-key', keyA, '--max-tokens', '8', '--temperature', '0', '--json', 'hello, swarm']);
    assert.equal(withKey.code, 0, withKey.stderr);
    assert.equal((JSON.parse(withKey.stdout) as { receipt: { body: { status: string } } }).receipt.body.status, 'completed');
    const without = await runCli(['submit', '-b', boot, '--timeout', '8', '--max-tokens', '8', 'hello?']);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /Failed to dial bootstrap peer/);
  });

  it('the OpenAI gateway\'s light client joins with the node\'s key', async () => {
    const api = JSON.parse(readFileSync(join(dir, 'member2', 'api.json'), 'utf8')) as { url: string };
    const models = await get<{ data: Array<{ id: string }> }>(`${api.url}/v1/models`);
    const r = await post<{ choices: Array<{ message: { content: string } }>; mvp: { executor: string } }>(`${api.url}/v1/chat/completions`, {
      model: models.body.data[0]!.id, messages: [{ role: 'user', content: 'hello' }], max_tokens: 8,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.mvp.executor);
  });

  it('the submit-job example joins with the key given to it', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MVP_NODE_')));
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'examples/submit-job.ts', boot, 'hello', keyA], { cwd: root, env, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /receipt verified/);
  });

  it('a bad key file stops the node at start, naming the file', async () => {
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'not a key\n');
    const n = spawnNode(['--node-id', 'badkey', '--port', '0', '--data-dir', dir], { MVP_NODE_SWARM_KEY: bad });
    procs.push(n);
    assert.equal(await n.exited, 1);
    assert.match(n.stderr(), new RegExp(`Error: swarm key ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the first line must be /key/swarm/psk/1\\.0\\.0/`));
  });
});
