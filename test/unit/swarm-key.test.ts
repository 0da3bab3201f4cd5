// Swarm key files (libp2p pnet) and the suspected-mismatch detector, with real libp2p nodes over
// TCP on 127.0.0.1: the same key connects without a false alarm, another key fails and both ends
// report it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { SwarmKeyError, newSwarmKey, parseSwarmKey } from '../../src/actors/network/swarm-key.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const HEX = 'ab'.repeat(32);

describe('swarm key files', () => {
  it('accepts generated keys and the same key with a trailing newline or CRLF', () => {
    const key = newSwarmKey();
    assert.deepEqual(parseSwarmKey(key, 'k'), key);
    assert.deepEqual(parseSwarmKey(enc(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX}\r\n`), 'k'), enc(`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`));
  });

  for (const [what, text, problem] of [
    ['not a key file', 'hello\n', /first line must be \/key\/swarm\/psk\/1\.0\.0\//],
    ['another encoding', `/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /second line must be \/base16\//],
    ['a short key', '/key/swarm/psk/1.0.0/\n/base16/\nabcd', /64 hexadecimal digits/],
    ['extra lines', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore`, /more than three lines/],
  ] as const) {
    it(`refuses ${what}, naming the file and the fix`, () => {
      assert.throws(() => parseSwarmKey(enc(text), '/etc/swarm.key'), (err: Error) =>
        err instanceof SwarmKeyError && err.message.startsWith('swarm key /etc/swarm.key: ') && problem.test(err.message) && err.message.includes('swarm-key generate'));
    });
  }
});

describe('suspected swarm key mismatch', () => {
  async function node(key: Uint8Array, mismatches: string[]): Promise<NetworkNode> {
    return buildLibp2p({
      privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 8, mdns: false,
      swarmKey: key, onSwarmKeyMismatch: (addr) => mismatches.push(addr),
    });
  }

  it('raises no alarm between holders of the same key, and one on each side of a wrong key', async () => {
    const keyA = newSwarmKey();
    const seen = { a: [] as string[], b: [] as string[], c: [] as string[] };
    const a = await node(keyA, seen.a);
    const b = await node(newSwarmKey(), seen.b);
    const c = await node(keyA, seen.c);
    try {
      for (let i = 0; i < 5; i++) {
        const conn = await c.dial(a.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) });
        await conn.close();
      }
      assert.deepEqual([seen.a, seen.c], [[], []], 'the same key: no mismatch suspected');
      await assert.rejects(b.dial(a.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5000) }));
      // The listener reads noise at once; the dialer learns it when its connection ends.
      const deadline = Date.now() + 15_000;
      while ((seen.a.length === 0 || seen.b.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(seen.a.length, 1, 'the listener suspects a mismatch');
      assert.equal(seen.b.length, 1, 'the dialer suspects a mismatch');
      assert.match(seen.a[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });
});
