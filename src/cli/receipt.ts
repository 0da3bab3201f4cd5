// `mvp-node verify-receipt <file>`: checks a receipt offline with nothing but the file — a bare
// receipt envelope, or what `submit --json` prints ({ text, receipt }, then the text is checked too).
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { verifyReceipt, type ReceiptEnvelope, type VerifyReceiptOptions } from '../protocol/index.ts';
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

async function readJsonFile(file: string): Promise<unknown> {
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
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CommandFailedError(`receipt file ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Adds `verify-receipt` to the program with `.command()`, so it inherits help layout and exit handling. */
export function registerReceiptCommand(program: Command, deps: ReceiptCommandDeps = {}): Command {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  return program.command('verify-receipt')
    .description('Verify a signed job receipt offline (signature, executor, output hash)')
    .argument('<file>', 'A receipt envelope (JSON), or the output of `submit --json`')
    .option('--prompt <TEXT>', 'Also check that the receipt is for this prompt (input hash)')
    .action(async (file: string, opts: { prompt?: string }) => {
      const content = receiptFileContent(await readJsonFile(file));
      if ('problem' in content) throw new CommandFailedError(`receipt verification failed: format: ${content.problem}`);
      const result = await verifyReceipt(content.envelope, { text: content.text, prompt: opts.prompt ?? content.prompt });
      if (!result.ok) throw new CommandFailedError(`receipt verification failed: ${result.check}: ${result.reason}`);
      out(`${describeVerifiedReceipt(result.receipt)}\n`);
    });
}
