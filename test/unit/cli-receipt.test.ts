// `mvp-node verify-receipt <file>` through the real command: a bare receipt envelope or the
// output of `submit --json`; exit 0 with a summary, or exit 1 naming the check that failed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROTOCOL_VERSION, sealReceipt, signEnvelope, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import { tmpDir } from '../helpers/config.ts';
import { runCli } from '../helpers/proc.ts';
import { MODEL_SHA256, newPeer, NOW, PROMPT, receiptBy, TEXT, type Peer } from '../helpers/jobs.ts';

const mvpNode = (args: string[]) => runCli(args);

describe('mvp-node verify-receipt', () => {
  let dir: string;
  let client: Peer;
  let executor: Peer;
  let receipt: ReceiptEnvelope;
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    return writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2)).then(() => path);
  };

  before(async () => {
    dir = tmpDir('mvp-cli-receipt-');
    client = await newPeer();
    executor = await newPeer();
    receipt = await sealReceipt(executor.key, receiptBy(executor, client), NOW);
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  const summary = () => `Receipt ${receipt.body.job_id} verified: executor ${executor.id}, model tiny (${MODEL_SHA256.slice(0, 12)}…), `
    + '8 tokens at 200.0 tokens/s, status completed\n';

  it('verifies a bare receipt envelope and prints its summary (exit 0)', async () => {
    const r = await mvpNode(['verify-receipt', await file('receipt.json', receipt)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, summary());
    assert.equal(r.stderr, '');
  });

  it('verifies `submit --json` output, checking the output hash against its text', async () => {
    const r = await mvpNode(['verify-receipt', await file('submit.json', { text: TEXT, receipt })]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, summary());
  });

  it('fails output_hash when the text in `submit --json` output is not what was generated', async () => {
    const r = await mvpNode(['verify-receipt', await file('submit-edited.json', { text: `${TEXT} (edited)`, receipt })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: receipt verification failed: output_hash: sha256 of the text is [0-9a-f]{64}, the receipt says [0-9a-f]{64}\n$/);
    assert.equal(r.stdout, '');
  });

  it('checks a JSON lines file (what `receipts export` writes) line by line, naming the lines that fail', async () => {
    const second = await sealReceipt(executor.key, { ...receiptBy(executor, client), job_id: 'cd'.repeat(32) }, NOW + 1);
    const good = await file('ledger.jsonl', `${JSON.stringify(receipt)}\n${JSON.stringify(second)}\n`);
    const ok = await mvpNode(['verify-receipt', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.split('\n').filter((l) => l.startsWith('line ')).length, 2);
    assert.match(ok.stdout, /2 receipts verified\n$/);
    const forged = { ...second, body: { ...second.body, tokens_out: 999 } };
    const bad = await mvpNode(['verify-receipt', await file('ledger-bad.jsonl', `${JSON.stringify(receipt)}\n${JSON.stringify(forged)}\n{oops\n`)]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^line 2: receipt verification failed: signature: /m);
    assert.match(bad.stdout, /^line 3: receipt verification failed: format: not JSON/m);
    assert.equal(bad.stderr, 'Error: 2 of 3 receipts failed verification (lines 2, 3)\n');
  });

  it('checks the prompt with --prompt (input hash)', async () => {
    const path = await file('receipt-prompt.json', receipt);
    assert.equal((await mvpNode(['verify-receipt', '--prompt', PROMPT, path])).code, 0);
    const r = await mvpNode(['verify-receipt', '--prompt', 'Goodbye', path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: receipt verification failed: input_hash: /);
  });

  it('fails signature for a receipt changed after signing (exit 1)', async () => {
    const tampered = structuredClone(receipt);
    tampered.body.tokens_out = 8000;
    const r = await mvpNode(['verify-receipt', await file('tampered.json', tampered)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: receipt verification failed: signature: signature does not verify\n');
    assert.equal(r.stdout, '');
  });

  it('fails executor for a receipt signed by a peer other than the executor it names', async () => {
    const mallory = await newPeer();
    const forged = await signEnvelope(mallory.key, {
      v: PROTOCOL_VERSION, type: 'receipt', id: 'r-000000000000000009', from: mallory.id, ts: NOW, body: receiptBy(executor, client),
    });
    const r = await mvpNode(['verify-receipt', await file('forged.json', forged)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: receipt verification failed: executor: signed by \w+, but names \w+ as its executor\n$/);
  });

  it('fails format for JSON that is no receipt', async () => {
    const r = await mvpNode(['verify-receipt', await file('not-receipt.json', { hello: 'world' })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: receipt verification failed: format: envelope: must have required property 'v'\n$/);
    const wrapped = await mvpNode(['verify-receipt', await file('bad-text.json', { text: 42, receipt })]);
    assert.equal(wrapped.code, 1);
    assert.match(wrapped.stderr, /^Error: receipt verification failed: format: "text" next to the receipt is not a string\n$/);
  });

  it('names a file that is missing, a directory, or not JSON (exit 1); wants a file (exit 2)', async () => {
    const missing = await mvpNode(['verify-receipt', join(dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `Error: cannot read receipt file ${join(dir, 'nope.json')}: no such file\n`);
    const sub = join(dir, 'a-dir');
    await mkdir(sub);
    const directory = await mvpNode(['verify-receipt', sub]);
    assert.equal(directory.code, 1);
    assert.equal(directory.stderr, `Error: cannot read receipt file ${sub}: it is a directory\n`);
    const bad = await file('bad.json', '{"v": "1.0",');
    const notJson = await mvpNode(['verify-receipt', bad]);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, new RegExp(`^Error: receipt file ${bad} is not JSON: .+\\n$`));
    const none = await mvpNode(['verify-receipt']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing required argument 'file'/);
  });
});
