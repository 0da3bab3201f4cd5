// Inside a worker thread: rebuild the actor's environment from workerData and run it.
import { workerData } from 'node:worker_threads';
import { systemClock } from './clock.ts';
import { createLogger } from './log.ts';
import { loadActorModule, runActor } from './runner.ts';
import type { ThreadArgs } from './host.ts';
import type { Down } from './actor.ts';

export async function runWorkerActor(): Promise<void> {
  const { spec, config, logOptions, port } = workerData as ThreadArgs;
  const log = createLogger(logOptions).child({ actor: spec.name, thread: true });
  // A kill in "throw" mode: an uncaught exception in this thread, like a real bug would raise.
  port.on('message', (m: Down) => {
    if (m.k === 'crash' && m.uncaught) setImmediate(() => { throw new Error(m.reason); });
  });
  let crash: ((err: unknown) => void) | undefined;
  if (spec.native) {
    // An uncaught exception would end this thread at once, tearing down llama.cpp mid-decode
    // (which aborts the process): a native actor crashes through its runner instead, so its
    // cleanup stops the generations and releases the model before the thread exits.
    process.on('uncaughtException', (err) => {
      log.error({ err }, 'Uncaught exception in an actor holding a llama.cpp context: crashing it through its cleanup');
      crash?.(err);
    });
  }
  const mod = await loadActorModule(spec.module);
  await runActor(mod, { spec, port, config, clock: systemClock, log, placement: 'thread', crashHook: (fn) => { crash = fn; } });
  port.close();
}
