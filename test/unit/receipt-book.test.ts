// At most one accepted receipt per job id, and only from the executor the job's client assigned.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { sealReceipt, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import { ReceiptBook } from '../../src/market/receipts.ts';
import { newPeer, NOW, receiptBy, type Peer } from '../helpers/jobs.ts';

let client: Peer;
let a: Peer;
let b: Peer;
let fromA: ReceiptEnvelope;
let fromB: ReceiptEnvelope;
before(async () => {
  client = await newPeer(); a = await newPeer(); b = await newPeer();
  fromA = await sealReceipt(a.key, receiptBy(a, client), NOW);
  fromB = await sealReceipt(b.key, receiptBy(b, client), NOW + 1);
});

describe('ReceiptBook', () => {
  it('accepts the first receipt of a job and refuses any other for the same job', () => {
    const book = new ReceiptBook();
    assert.equal(book.accept(fromA), undefined);
    assert.equal(book.accept(fromA), undefined, 'the same receipt again is not a second one');
    assert.equal(book.accept(fromB), 'duplicate_receipt');
    assert.equal(book.get(fromA.body.job_id)?.id, fromA.id);
    assert.equal(book.size, 1);
  });

  it('once the client assigned the job, only the assigned executor\'s receipt counts (latest attempt wins)', () => {
    const book = new ReceiptBook();
    book.offer(fromA.body.job_id, client.id);
    book.assign(client.id, fromA.body.job_id, a.id, 1);
    book.assign(client.id, fromA.body.job_id, b.id, 2);
    book.assign(client.id, fromA.body.job_id, a.id, 1); // a late copy of the first attempt
    assert.equal(book.accept(fromA), 'unassigned_receipt');
    assert.equal(book.accept(fromB), undefined);
    assert.equal(book.get(fromB.body.job_id)?.from, b.id);
  });

  it('ignores assignments from anyone but the client of the offer', () => {
    const book = new ReceiptBook();
    book.assign(a.id, fromA.body.job_id, a.id, 1); // offer unknown: ignored
    book.offer(fromA.body.job_id, client.id);
    book.offer(fromA.body.job_id, a.id); // a second "offer" of the same id does not take it over
    book.assign(a.id, fromA.body.job_id, a.id, 5);
    book.assign(client.id, fromA.body.job_id, b.id, 1);
    assert.equal(book.accept(fromA), 'unassigned_receipt');
    assert.equal(book.accept(fromB), undefined);
  });

  it('lists the latest receipts first and stays bounded', async () => {
    const book = new ReceiptBook(3);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await sealReceipt(a.key, { ...receiptBy(a, client), job_id: String(i).padStart(64, '0') }, NOW + i);
      assert.equal(book.accept(r), undefined);
      ids.push(r.body.job_id);
    }
    assert.equal(book.size, 3);
    assert.deepEqual(book.recent(10).map((r) => r.body.job_id), ids.slice(2).reverse());
    assert.deepEqual(book.recent(1).map((r) => r.body.job_id), [ids[4]]);
  });

  it('numbers the receipts it stores, so sync can send those stored since a change number', () => {
    let n = 10;
    const book = new ReceiptBook(10, () => ++n);
    assert.deepEqual(book.since(0), []);
    book.accept(fromA);
    book.accept(fromA); // the same receipt again takes no number
    assert.deepEqual(book.since(0).map((e) => [e.seq, e.receipt.id]), [[11, fromA.id]]);
    assert.deepEqual(book.since(11), []);
    n = 20; // the counter is shared: the peer table took numbers meanwhile
    const other = new ReceiptBook(10, () => ++n);
    other.accept(fromB);
    assert.deepEqual(other.since(20).map((e) => e.seq), [21]);
  });
});
