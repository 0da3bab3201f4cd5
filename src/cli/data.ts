// `mvp-node data check | repair` and `mvp-node receipts export`: the node's store from the
// command line. While the node runs, its store actor holds LevelDB's lock, so the commands ask
// it through its HTTP API; with the node stopped they open the directory themselves.
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/index.ts';
import { checkDataDir, openStore, repairDataDir, type CheckReport, type StoredReceipt } from '../store/store.ts';
import { CommandFailedError } from './errors.ts';
import { findNode, NodeApi, NoRunningNodeError } from './node-api.ts';

export interface DataCommandsDeps {
  config(cmd: Command): Config;
  /** Defaults to process.stdout. */
  out?: (text: string) => void;
}

/** Where a command finds the store: a running node's API, or its directory. */
type Target = { api: NodeApi } | { nodeDir: string };

async function target(cmd: Command, config: Config): Promise<Target> {
  const o = cmd.opts<{ api?: string; token?: string }>();
  const nodeId = config.node.node_id ?? 'default';
  try {
    const found = await findNode({ ...(o.api !== undefined ? { api: o.api } : {}), dataDir: config.node.data_dir, nodeId });
    return { api: new NodeApi(found.url, o.token ?? config.api.token) };
  } catch (err) {
    if (err instanceof NoRunningNodeError) return { nodeDir: join(config.node.data_dir, nodeId) };
    throw err;
  }
}

export function formatCheck(r: Omit<CheckReport, 'path' | 'schema_version'> & Partial<Pick<CheckReport, 'path' | 'schema_version'>>): string {
  const where = r.path ? `Store ${r.path}` : 'Store';
  const version = r.schema_version !== undefined ? `, schema version ${r.schema_version}` : '';
  if (r.healthy) return `${where} is healthy: ${r.receipts} receipts, ${r.jobs} jobs${version}${r.note ? ` (${r.note})` : ''}\n`;
  return `${where} has problems (${r.receipts} receipts, ${r.jobs} jobs${version}):\n${r.problems.map((p) => `  ${p}\n`).join('')}`;
}

/** `--since`: an ISO 8601 date or time, or milliseconds since the epoch. */
function since(v: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidArgumentError('expected an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00:00Z) or milliseconds since the epoch.');
  return t;
}

export function registerDataCommands(program: Command, deps: DataCommandsDeps): void {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  const apiOptions = (cmd: Command) => cmd
    .option('--api <URL>', "a running node's API (default: found in the data directory of --node-id)")
    .option('--token <TOKEN>', 'bearer token, if the node has api.token set (default: MVP_NODE_API_TOKEN, then api.token of --config)');

  const data = program.command('data').description("Check or repair a node's store (<data_dir>/<node-id>/store)");

  apiOptions(data.command('check').description('Read every record of the store and say whether it is healthy (exit 1 if not)'))
    .option('--json', 'print the report as JSON')
    .action(async function (this: Command) {
      const config = deps.config(this);
      const t = await target(this, config);
      const report = 'api' in t
        ? (await t.api.request<CheckReport>('GET', '/store/check', { timeoutMs: 300_000 })).body
        : await checkDataDir(t.nodeDir);
      out(this.opts<{ json?: boolean }>().json ? `${JSON.stringify(report)}\n` : formatCheck(report));
      if (!report.healthy) throw new CommandFailedError(`the store has ${report.problems.length} problem(s): run \`mvp-node data repair\` with the node stopped`);
    });

  data.command('repair')
    .description("Repair a stopped node's store: LevelDB's own repair, then its indexes and counts rebuilt from the records")
    .action(async function (this: Command) {
      const config = deps.config(this);
      const t = await target(this, config);
      if ('api' in t) throw new CommandFailedError(`the node runs (${t.api.url}): stop it before repairing its store`);
      const { dropped, report } = await repairDataDir(t.nodeDir);
      if (dropped.length > 0) out(`Dropped ${dropped.length} damaged record(s): ${dropped.slice(0, 10).join(', ')}${dropped.length > 10 ? ', …' : ''}\n`);
      out(formatCheck(report));
      if (!report.healthy) throw new CommandFailedError(`the store still has problems: move it aside (mv ${report.path} ${report.path}.broken) to start with an empty one`);
    });

  const receipts = program.command('receipts').description("A node's receipt ledger");
  apiOptions(receipts.command('export').description('Write the ledger\'s receipts as JSON lines (one signed receipt envelope per line; `verify-receipt` checks such a file)'))
    .option('--since <WHEN>', 'only receipts signed at or after this time (ISO 8601, or ms since the epoch)', since)
    .option('--output <FILE>', 'write to this file instead of stdout')
    .action(async function (this: Command) {
      const o = this.opts<{ since?: number; output?: string }>();
      const config = deps.config(this);
      const t = await target(this, config);
      const sink: Writable | undefined = o.output !== undefined ? createWriteStream(o.output, { flags: 'w' }) : undefined;
      const write = (line: string) => { if (sink) sink.write(line); else out(line); };
      let n = 0;
      const emit = (r: StoredReceipt) => {
        if (o.since !== undefined && r.receipt.ts < o.since) return;
        write(`${JSON.stringify(r.receipt)}\n`);
        n++;
      };
      // Oldest first, a page at a time after the last seq seen: a page is one snapshot, and
      // receipts stored meanwhile come after the cursor, so nothing is skipped or repeated.
      if ('api' in t) {
        let after = '0';
        for (;;) {
          const { body } = await t.api.get<StoredReceipt[]>(`/receipts?after=${after}&limit=1000`);
          for (const r of body) emit(r);
          if (body.length < 1000) break;
          after = body[body.length - 1]!.seq;
        }
      } else {
        const store = await openStore({ nodeDir: t.nodeDir });
        try {
          let after = '0';
          for (;;) {
            const page = await store.receipts({ after, limit: 1000 });
            for (const r of page.items) emit(r);
            if (page.next === null) break;
            after = page.next;
          }
        } finally { await store.close(); }
      }
      if (sink) {
        await new Promise<void>((resolve, reject) => { sink.on('error', reject); sink.end(resolve); });
        process.stderr.write(`Exported ${n} receipt(s) to ${o.output}\n`);
      }
    });
}
