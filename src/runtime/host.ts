// Where an actor runs. InlineHost: this thread, over a LocalPort. ThreadHost: a
// worker_threads Worker, over the same MessagePort protocol. Both run the same runActor().
import { MessageChannel, Worker, setEnvironmentData, type MessagePort, type Transferable } from 'node:worker_threads';
import { LocalPort, type ActorPort } from './local-port.ts';
import { STDERR_TTY } from './progress.ts';
import { pathToFileURL } from 'node:url';
import type { ActorSpec, Down, Placement, Up } from './actor.ts';
import type { Clock } from './clock.ts';
import type { Logger, LogOptions } from './log.ts';
import type { Config } from '../config/types.ts';
import { serializeError, type SerializedError } from './errors.ts';
import { loadActorModule, runActor } from './runner.ts';
import { COMPILED, ROOT_URL, srcModule } from '../paths.ts';

export interface ActorExit { crashed?: SerializedError }

export interface RunningActor {
  readonly spec: ActorSpec;
  readonly placement: Placement;
  /** `transfer`: ports moved with the message (a `link`, threads only). */
  post(m: Down, transfer?: Transferable[]): void;
  /** Every Up message, in order. */
  onUp(fn: (m: Up) => void): void;
  /** Settles once: the actor stopped (crashed undefined) or crashed. */
  readonly exited: Promise<ActorExit>;
  /** Hard kill, no cleanup inside the actor beyond what its host can do. */
  terminate(): Promise<void>;
}

export interface HostEnv {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  logOptions: Omit<LogOptions, 'destination'>;
}

export interface Host { readonly placement: Placement; start(spec: ActorSpec): RunningActor }

function moduleUrl(module: string): string {
  return module.startsWith('file:') ? module : pathToFileURL(module).href;
}

/** Wires the parent's end of the port: Up messages to listeners, exit detection. */
function parentEnd(spec: ActorSpec, placement: Placement, port: ActorPort<Up>, terminate: () => Promise<void>) {
  const listeners: Array<(m: Up) => void> = [];
  const { promise: exited, resolve } = Promise.withResolvers<ActorExit>();
  let settled = false;
  const settle = (e: ActorExit) => { if (!settled) { settled = true; resolve(e); port.close(); } };
  port.on('message', (m: Up) => {
    for (const l of listeners) l(m);
    if (m.k === 'stopped') settle({});
    else if (m.k === 'crashed') settle({ crashed: m.error });
  });
  const running: RunningActor = {
    spec, placement, exited,
    post: (m, transfer) => { if (!settled) port.postMessage(m, transfer); },
    onUp: (fn) => { listeners.push(fn); },
    terminate,
  };
  return { running, settle };
}

export class InlineHost implements Host {
  readonly placement = 'inline' as const;
  constructor(private readonly env: HostEnv) {}

  start(spec: ActorSpec): RunningActor {
    const { port1, port2 } = LocalPort.channel<Up, Down>();
    const log = this.env.log.child({ actor: spec.name });
    // Terminating an inline actor: tell it to die, and stop waiting for it (its leftovers, if it
    // hangs in a cleanup, are abandoned — a thread is the placement for actors that can hang).
    const { running, settle } = parentEnd(spec, 'inline', port1, async () => {
      running.post({ k: 'crash', reason: 'terminated' });
      settle({ crashed: { name: 'Terminated', message: 'terminated' } });
    });
    loadActorModule(moduleUrl(spec.module))
      .then((mod) => runActor(mod, { spec, port: port2, config: this.env.config, clock: this.env.clock, log, placement: 'inline' }))
      .catch((err) => settle({ crashed: serializeError(err) }))
      .finally(() => port2.close());
    return running;
  }
}

// Built: the compiled entry; from the sources: the one that registers tsx first.
const workerEntry = COMPILED ? srcModule('runtime/worker-entry.ts') : new URL('workers/actor-host.js', ROOT_URL);

export interface ThreadArgs { spec: ActorSpec; config: Readonly<Config>; logOptions: HostEnv['logOptions']; port: MessagePort }

export class ThreadHost implements Host {
  readonly placement = 'thread' as const;
  constructor(private readonly env: HostEnv) {}

  start(spec: ActorSpec): RunningActor {
    const { port1, port2 } = new MessageChannel();
    setEnvironmentData(STDERR_TTY, Boolean(process.stderr.isTTY));
    const worker = new Worker(workerEntry, {
      workerData: { spec: { ...spec, module: moduleUrl(spec.module) }, config: this.env.config, logOptions: this.env.logOptions, port: port2 },
      transferList: [port2],
      name: `actor:${spec.name}`,
      // The entry registers its own loader and polyfill; inherited --import flags would race it.
      execArgv: [],
    });
    const { running, settle } = parentEnd(spec, 'thread', port1, async () => { await worker.terminate(); });
    worker.on('error', (err) => settle({ crashed: serializeError(err) }));
    worker.on('exit', (code) => settle(code === 0 ? {} : { crashed: { name: 'WorkerExit', message: `worker exited with code ${code}` } }));
    // Once the actor has stopped or crashed its thread has nothing left to do.
    void running.exited.then(() => worker.terminate());
    return running;
  }
}
