// `mvp-node` as a program: start a node, log its health periodically, stop it in order on
// SIGINT, drain it first on SIGTERM or POST /drain (create-node.ts: running jobs finish within
// executor.drain_timeout_secs, queued ones go back to their clients). A second signal kills the
// process at once (SIGKILL to itself, exit status 137). Exit codes: 0 clean stop or drain, 1
// failure to start or run (port taken, supervisor gave up). Start-up errors go to stderr as
// plain `Error: ...` lines, and to the log.
import type { Config } from '../config/types.ts';
import { ActorStartError } from '../runtime/errors.ts';
import { createNode, type MvpNode } from './create-node.ts';

/** The line a user sees for an error that stopped the node from starting. */
export function startupErrorMessage(err: unknown): string {
  const e = err instanceof ActorStartError ? err.cause : (err as Error);
  return `Error: ${e?.message ?? String(err)}`;
}

export async function runNode(config: Readonly<Config>): Promise<void> {
  let node: MvpNode;
  // Set below; POST /drain comes only once the api actor runs.
  let requestDrain = () => {};
  try {
    node = await createNode(config, { onDrainRequest: () => requestDrain() });
  } catch (err) {
    process.stderr.write(`${startupErrorMessage(err)}\n`);
    process.exit(1);
  }
  const { log, supervisor } = node;
  // Signals are ours from before the start: a Ctrl-C during start-up still stops in order.
  let healthTimer: NodeJS.Timeout | undefined;
  let started: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const shutdown = async (signal: string, code: number, drain = false) => {
    if (stopping) return;
    stopping = true;
    clearInterval(healthTimer);
    log.info({ signal }, drain ? 'Draining, then shutting down (a second signal stops at once)' : 'Shutting down');
    await started.catch(() => undefined);
    if (drain) await node.drain();
    await node.stop();
    log.info('Stopped');
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) {
        // At once, and the same way every time: exiting normally while llama.cpp generates
        // aborts inside the native addon (SIGABRT), so the process kills itself instead.
        log.warn({ signal: sig }, 'Second signal: exiting now');
        process.kill(process.pid, 'SIGKILL');
      }
      void shutdown(sig, 0, sig === 'SIGTERM');
    });
  }
  requestDrain = () => void shutdown('POST /drain', 0, true);
  try {
    started = node.start();
    await started;
  } catch (err) {
    const line = startupErrorMessage(err);
    log.error({ err: err instanceof ActorStartError ? err.cause : err }, line);
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }
  if (stopping) return;

  const net = await node.network();
  log.info({
    peer_id: node.peerId, listen: net.listen,
    role: config.network.bootstrap_peers.length === 0 ? 'bootstrap' : 'peer',
  }, config.network.bootstrap_peers.length === 0 ? 'Node started as bootstrap node' : 'Node started');

  const healthCheck = async () => log.info(await node.health(), 'Health check');
  healthTimer = setInterval(() => { void healthCheck().catch(() => undefined); }, config.monitoring.health_check_interval_secs * 1000);

  supervisor.on('gave_up', (e: { name: string; reason: string }) => {
    process.stderr.write(`Error: ${e.reason}\n`);
    void shutdown('supervisor gave up', 1);
  });
}
