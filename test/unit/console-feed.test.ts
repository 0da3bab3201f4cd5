// The console's reading of the event stream (console/src/feed.ts): lines split across chunks
// are put back together; a malformed line is ignored and counted, never handed on; a jump in
// seq is reported so the page resynchronises from REST.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { FEED_TOPICS, FeedReader, MAX_LINE_CHARS, type FeedEvent } from '../../console/src/feed.ts';
import { EVENT_TOPICS } from '../../src/actors/api/events.ts';

function reader() {
  const events: FeedEvent[] = [];
  const gaps: Array<[number, number]> = [];
  const r = new FeedReader({ event: (e) => events.push(e), gap: (a, b) => gaps.push([a, b]) });
  return { r, events, gaps };
}

const line = (seq: number, type: string, data: unknown) => `${JSON.stringify({ seq, type, data })}\n`;

describe('console event feed', () => {
  it('reads the topics the node sends', () => {
    assert.deepEqual(FEED_TOPICS, EVENT_TOPICS);
  });

  it('takes a models line only with its loaded, swarm and pulls lists (GET /models)', () => {
    const { r, events } = reader();
    r.push(line(1, 'models', { loaded: [], swarm: [], pulls: [{ sha256: 'a'.repeat(64), state: 'running', bytes_done: 1, size: 2 }] }));
    r.push(line(2, 'models', { object: 'list', data: [] }));
    assert.deepEqual(events.map((e) => e.seq), [1]);
    assert.equal(r.diagnostics.malformed, 1);
    assert.match(r.diagnostics.lastMalformed ?? '', /loaded, swarm and pulls/);
  });

  it('reassembles lines whatever the chunking', () => {
    const text = line(1, 'hello', { node_id: 'n', peer_id: 'p', sample_ms: 400 }) + line(2, 'peers', []) + line(3, 'actors', [{ name: 'api' }]);
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 8 }), (cuts) => {
      const { r, events, gaps } = reader();
      const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), text.length];
      for (let i = 0; i + 1 < at.length; i++) r.push(text.slice(at[i], at[i + 1]));
      assert.deepEqual(events.map((e) => e.type), ['hello', 'peers', 'actors']);
      assert.deepEqual(gaps, []);
      assert.equal(r.diagnostics.malformed, 0);
    }));
  });

  it('ignores and counts malformed lines, and goes on with the next good one', () => {
    const { r, events, gaps } = reader();
    r.push(line(1, 'hello', { node_id: 'n', peer_id: 'p', sample_ms: 400 }));
    r.push('{not json\n');
    r.push(`${JSON.stringify({ type: 'peers', data: [] })}\n`);
    r.push(line(2, 'peers', { not: 'a list' }));
    r.push(line(3, 'no-such-type', {}));
    r.push(line(4, 'decisions', { decisions: 'x' }));
    r.push(line(5, 'peers', [{ peer_id: 'a' }]));
    assert.deepEqual(events.map((e) => [e.seq, e.type]), [[1, 'hello'], [5, 'peers']]);
    assert.equal(r.diagnostics.malformed, 5);
    assert.equal(r.diagnostics.events, 2);
    assert.match(r.diagnostics.lastMalformed ?? '', /decisions/);
    assert.deepEqual(gaps, [], 'numbered bad lines were received: no resync for them');
  });

  it('reports lost lines by their seq, and starts again at 1 on a new connection', () => {
    const { r, gaps } = reader();
    r.push(line(1, 'peers', []) + line(2, 'peers', []) + line(5, 'peers', []));
    assert.deepEqual(gaps, [[3, 5]]);
    r.reset();
    r.push(line(1, 'hello', { node_id: 'n', peer_id: 'p', sample_ms: 400 }));
    assert.deepEqual(gaps, [[3, 5]]);
    r.push(line(7, 'ping', {}));
    assert.deepEqual(gaps, [[3, 5], [2, 7]]);
    assert.equal(r.diagnostics.gaps, 2);
  });

  it('drops a line that never ends instead of holding it', () => {
    const { r, events } = reader();
    r.push('x'.repeat(MAX_LINE_CHARS + 1));
    assert.equal(r.diagnostics.malformed, 1);
    r.push(`\n${line(1, 'peers', [])}`);
    assert.equal(events.length, 1);
  });
});
