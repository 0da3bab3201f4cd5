// Receipts checked the console's way (console/src/receipt.ts: WebCrypto Ed25519, the key taken
// from the executor's peer id) agree with `verify-receipt` (src/protocol/receipt.ts) on real
// signed receipts and on every alteration of them.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { publicKeyOfPeerId, verifyReceiptInBrowser } from '../../console/src/receipt.ts';
import { sealReceipt, sha256Hex, verifyReceipt, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import { signEnvelope } from '../../src/protocol/envelope.ts';
import type { ReceiptBody } from '../../src/protocol/receipt-body.ts';

const TEXT = 'the generated text';

async function receiptBy(key: PrivateKey): Promise<ReceiptEnvelope> {
  const executor = peerIdFromPrivateKey(key).toString();
  const client = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  const body: ReceiptBody = {
    job_id: 'a'.repeat(64), executor, client, model: 'mvp-test-tiny', model_sha256: 'b'.repeat(64),
    input_sha256: sha256Hex('prompt'), output_sha256: sha256Hex(TEXT), tokens_in: 3, tokens_out: 5,
    timings: { queue_ms: 1, load_ms: 0, first_token_ms: 2, generation_ms: 30, tokens_per_s: 166.7 },
    status: 'completed', started_at: 1_700_000_000_000, finished_at: 1_700_000_000_040,
  } as ReceiptBody;
  return sealReceipt(key, body, 1_700_000_000_050);
}

describe('receipt verification in the browser', () => {
  let key: PrivateKey;
  let receipt: ReceiptEnvelope;
  before(async () => {
    key = await generateKeyPair('Ed25519');
    receipt = await receiptBy(key);
  });

  it('reads the public key out of an ed25519 peer id', () => {
    assert.deepEqual(publicKeyOfPeerId(receipt.from), key.publicKey.raw);
  });

  it('verifies a real receipt, and its text', async () => {
    assert.equal((await verifyReceipt(receipt, { text: TEXT })).ok, true);
    const v = await verifyReceiptInBrowser(receipt, { text: TEXT });
    assert.deepEqual(v, { ok: true, executor: receipt.from, job_id: receipt.body.job_id, receipt_id: receipt.id });
  });

  it('refuses another text, another signer, and a receipt naming someone else as executor', async () => {
    const text = await verifyReceiptInBrowser(receipt, { text: 'something else' });
    assert.equal(text.ok === false && text.check, 'output_hash');
    const other = await receiptBy(await generateKeyPair('Ed25519'));
    const swapped = await verifyReceiptInBrowser({ ...receipt, sig: other.sig });
    assert.equal(swapped.ok === false && swapped.check, 'signature');
    // Validly signed by `key`, but its body names `other`'s signer as the executor.
    const { sig: _s, ...unsigned } = other;
    const claim = await signEnvelope(key, { ...unsigned, from: receipt.from });
    const wrong = await verifyReceiptInBrowser(claim);
    assert.equal(wrong.ok === false && wrong.check, 'executor');
    assert.equal((await verifyReceipt(claim)).ok, false);
  });

  it('refuses a peer id without an ed25519 key (secp256k1) with the reason', async () => {
    const k = await generateKeyPair('secp256k1');
    const v = await verifyReceiptInBrowser({ ...receipt, from: peerIdFromPrivateKey(k).toString() });
    assert.equal(v.ok, false);
    assert.match(v.ok ? '' : v.reason, /does not embed an ed25519 public key/);
  });

  it('agrees with verify-receipt on any altered field', async () => {
    const paths = [['id'], ['ts'], ['v'], ['body', 'tokens_out'], ['body', 'status'], ['body', 'output_sha256'], ['body', 'model'], ['sig']] as const;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), async (path, value) => {
      const altered = structuredClone(receipt) as unknown as Record<string, Record<string, unknown>>;
      if (path.length === 1) (altered as Record<string, unknown>)[path[0]] = value;
      else altered[path[0]]![path[1]] = value;
      const same = JSON.stringify(altered) === JSON.stringify(receipt);
      const browser = await verifyReceiptInBrowser(altered);
      const node = await verifyReceipt(altered);
      assert.equal(browser.ok, same, `browser verdict on ${path.join('.')} = ${JSON.stringify(value)}`);
      assert.equal(node.ok, browser.ok, 'the same verdict as verify-receipt');
    }), { numRuns: 60 });
  });
});
