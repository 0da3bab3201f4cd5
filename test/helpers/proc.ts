// Real `mvp-node` processes for integration tests: spawn the actual command, read its JSON log
// lines, wait for a line that matches, stop it with a signal.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/mvp-node.js', import.meta.url));

export interface LogLine { msg: string; level: number; [k: string]: unknown }

export interface NodeProcess {
  proc: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnNode(args: string[], env: Record<string, string> = {}, wrap: string[] = []): NodeProcess {
  const cmd = wrap.length ? wrap[0]! : process.execPath;
  const argv = wrap.length ? [...wrap.slice(1), process.execPath, BIN, ...args] : [BIN, ...args];
  const proc = spawn(cmd, argv, { env: { ...process.env, MVP_NODE_MDNS: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  createInterface({ input: proc.stdout! }).on('line', (raw) => {
    let l: LogLine;
    try { l = JSON.parse(raw) as LogLine; } catch { return; }
    lines.push(l);
    for (const w of [...waiters]) if (w.pred(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc, lines, exited,
    stderr: () => err,
    waitFor(pred, timeoutMs = 20_000, what = 'a log line') {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${err.slice(-500)}; last lines: ${lines.slice(-5).map((x) => x.msg).join(' | ')}`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
        void exited.then(() => { clearTimeout(t); reject(new Error(`process exited while waiting for ${what}; stderr: ${err.slice(-500)}`)); });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** The TCP port a node actually listens on, from its "Listening on" log line. */
export async function listenPort(n: NodeProcess): Promise<number> {
  const l = await n.waitFor((x) => x.msg.startsWith('Listening on /ip4/127.0.0.1/'), 60_000, 'Listening on');
  return Number(/\/tcp\/(\d+)\//.exec(String(l.addr))![1]);
}

/**
 * Runs `mvp-node ARGS` to completion (no MVP_NODE_* variables from this environment), under
 * `wrap` if given (e.g. ['ip', 'netns', 'exec', ns]).
 */
export function runCli(args: string[], timeoutMs = 60_000, wrap: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MVP_NODE_')));
  const [cmd, ...pre] = wrap.length ? wrap : [process.execPath];
  const argv = wrap.length ? [...pre, process.execPath, BIN, ...args] : [BIN, ...args];
  return new Promise((resolve) => {
    execFile(cmd!, argv, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr }));
  });
}
