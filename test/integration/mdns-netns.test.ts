// Seed scenario 2 with discovery: three `--port 0` nodes and no bootstrap address find each
// other by mDNS. Each node runs in its own network namespace, joined by a bridge in a fourth,
// so multicast never touches the host's own interfaces. Needs root (CI runs as root).
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { describeNeeding, netnsMissing } from '../helpers/needs.ts';

const tag = `mvp${process.pid % 100000}`;
const hub = `${tag}-hub`;
const hosts = ['a', 'b', 'c'].map((x, i) => ({ ns: `${tag}-${x}`, ip: `198.18.0.${i + 1}`, id: `node${i + 1}` }));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

describeNeeding('mDNS discovery inside network namespaces', netnsMissing(), () => {
  const nodes: NodeProcess[] = [];
  before(() => {
    ip('netns', 'add', hub);
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    for (const [i, h] of hosts.entries()) {
      ip('netns', 'add', h.ns);
      ip('link', 'add', `${tag}h${i}`, 'type', 'veth', 'peer', 'name', `${tag}n${i}`);
      ip('link', 'set', `${tag}h${i}`, 'netns', hub);
      ip('link', 'set', `${tag}n${i}`, 'netns', h.ns);
      ip('-n', hub, 'link', 'set', `${tag}h${i}`, 'master', 'br0');
      ip('-n', hub, 'link', 'set', `${tag}h${i}`, 'up');
      ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', `${tag}n${i}`);
      ip('-n', h.ns, 'link', 'set', `${tag}n${i}`, 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      // mDNS sends to 224.0.0.251: give multicast a route out of the namespace's one link.
      ip('-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', `${tag}n${i}`);
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    for (const ns of [...hosts.map((h) => h.ns), hub]) { try { ip('netns', 'del', ns); } catch { /* already gone */ } }
  });

  it('three nodes with --port 0 and no bootstrap peers discover each other', async () => {
    const data = tmpDir();
    for (const h of hosts) {
      nodes.push(spawnNode(['--node-id', h.id, '--port', '0', '--data-dir', data], { MVP_NODE_MDNS: 'true' }, ['ip', 'netns', 'exec', h.ns]));
    }
    await Promise.all(nodes.map(async (n, i) => {
      const self = hosts[i]!;
      const listening = await n.waitFor((l) => l.msg.startsWith(`Listening on /ip4/${self.ip}/tcp/`), 60_000, `${self.id} listening`);
      assert.doesNotMatch(String(listening.addr), /\/tcp\/0\//);
      await n.waitFor((l) => l.msg === 'Peer discovered', 60_000, `${self.id} discovers a peer by mDNS`);
      for (const other of hosts.filter((h) => h !== self)) {
        await n.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === other.id, 60_000, `${self.id} hears ${other.id}`);
      }
    }));
    for (const n of nodes) assert.equal(await n.stop('SIGINT'), 0);
  });
});
