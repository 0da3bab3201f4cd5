// `mvp-node verify-receipt <file>`: checks a receipt offline with nothing but the file — a bare
// receipt envelope, or what `submit --json` prints ({ text, receipt }, then the text is checked too),
// or a JSON Lines file of them (what `receipts export` writes), every line checked.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ReceiptEnvelope, VerifyReceiptOptions } from '../protocol/index.ts';
import { CommandFailedError } from './errors.ts';

export interface ReceiptCommandDeps {
  /** Defaults to process.stdout. */
  readonly out?: (text: string) => void;
}

/** Bigger than any receipt with its text (32 768 tokens of text is well under 1 MiB). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * What a receipt file holds: the envelope, plus the text (and prompt) it is claimed for when the
 * file is `submit --json` output. A `prompt` string next to the receipt is checked as well.
 */
export function receiptFileContent(json: unknown): { envelope: unknown } & VerifyReceiptOptions | { problem: string } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { envelope: json };
  if (!Object.hasOwn(json, 'receipt') || Object.hasOwn(json, 'sig')) return { envelope: json };
  const wrapper = json as { receipt: unknown; text?: unknown; prompt?: unknown };
  if (wrapper.text !== undefined && typeof wrapper.text !== 'string') return { problem: '"text" next to the receipt is not a string' };
  if (wrapper.prompt !== undefined && typeof wrapper.prompt !== 'string') return { problem: '"prompt" next to the receipt is not a string' };
  return { envelope: wrapper.receipt, text: wrapper.text, prompt: wrapper.prompt };
}

/** The one-line summary of a verified receipt. */
export function describeVerifiedReceipt(receipt: ReceiptEnvelope): string {
  const r = receipt.body;
  const status = r.reason === undefined ? r.status : `${r.status} (${r.reason})`;
  return `Receipt ${r.job_id} verified: executor ${r.executor}, model ${r.model} (${r.model_sha256.slice(0, 12)}…), `
    + `${r.tokens_out} tokens at ${r.timings.tokens_per_s.toFixed(1)} tokens/s, status ${status}`;
}

/** One JSON document, or JSON lines (a `.jsonl` file, or several lines that are not one document). */
async function readReceiptFile(file: string): Promise<{ one: unknown } | { lines: Array<{ line: number; json?: unknown; problem?: string }> }> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > MAX_FILE_BYTES) throw new Error(`${size} bytes, more than a receipt file can be (${MAX_FILE_BYTES})`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new CommandFailedError(`cannot read receipt file ${file}: ${why}`, { cause: err });
  }
  const rows = text.split('\n').map((t, i) => ({ line: i + 1, t: t.trim() })).filter((r) => r.t !== '');
  let whole: unknown;
  let wholeError: Error | undefined;
  try { whole = JSON.parse(text); } catch (err) { wholeError = err as Error; }
  if (!file.endsWith('.jsonl') && (wholeError === undefined || rows.length < 2)) {
    if (wholeError) throw new CommandFailedError(`receipt file ${file} is not JSON: ${wholeError.message}`, { cause: wholeError });
    return { one: whole };
  }
  if (rows.length === 0) throw new CommandFailedError(`receipt file ${file} holds no receipt`);
  return {
    lines: rows.map(({ line, t }) => {
      try { return { line, json: JSON.parse(t) as unknown }; } catch (err) { return { line, problem: `not JSON: ${(err as Error).message}` }; }
    }),
  };
}

/** Adds `verify-receipt` to the program with `.command()`, so it inherits help layout and exit handling. */
export function registerReceiptCommand(program: Command, deps: ReceiptCommandDeps = {}): Command {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  return program.command('verify-receipt')
    .description('Verify a signed job receipt offline (signature, executor, output hash)')
    .argument('<file>', 'A receipt envelope (JSON), the output of `submit --json`, or JSON lines of them (`receipts export`)')
    .option('--prompt <TEXT>', 'Also check that the receipt is for this prompt (input hash)')
    .action(async (file: string, opts: { prompt?: string }) => {
      const read = await readReceiptFile(file);
      const check = async (json: unknown): Promise<{ ok: true; receipt: ReceiptEnvelope } | { ok: false; why: string }> => {
        const content = receiptFileContent(json);
        if ('problem' in content) return { ok: false, why: `format: ${content.problem}` };
        const { verifyReceipt } = await import('../protocol/index.ts');
        const result = await verifyReceipt(content.envelope, { text: content.text, prompt: opts.prompt ?? content.prompt });
        return result.ok ? { ok: true, receipt: result.receipt } : { ok: false, why: `${result.check}: ${result.reason}` };
      };
      if ('one' in read) {
        const r = await check(read.one);
        if (!r.ok) throw new CommandFailedError(`receipt verification failed: ${r.why}`);
        out(`${describeVerifiedReceipt(r.receipt)}\n`);
        return;
      }
      const bad: number[] = [];
      for (const { line, json, problem } of read.lines) {
        const r = problem !== undefined ? { ok: false as const, why: `format: ${problem}` } : await check(json);
        if (r.ok) out(`line ${line}: ${describeVerifiedReceipt(r.receipt)}\n`);
        else { bad.push(line); out(`line ${line}: receipt verification failed: ${r.why}\n`); }
      }
      if (bad.length > 0) {
        throw new CommandFailedError(`${bad.length} of ${read.lines.length} receipts failed verification (line${bad.length > 1 ? 's' : ''} ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ', …' : ''})`);
      }
      out(`${read.lines.length} receipts verified\n`);
    });
}
