// `mvp-node swarm-key generate [--out FILE]`: a new pre-shared key for a private swarm (libp2p
// pnet), the file `network.swarm_key`, `MVP_NODE_SWARM_KEY` and `--swarm-key` name. Written to
// stdout, or to a new file readable by its owner only; an existing file is never overwritten
// (replacing a swarm's key cuts every node that still holds the old one).
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CommandFailedError } from './errors.ts';

export interface SwarmKeyCommandDeps {
  /** Defaults to process.stdout. */
  readonly out?: (bytes: Uint8Array) => void;
}

export function registerSwarmKeyCommand(program: Command, deps: SwarmKeyCommandDeps = {}): Command {
  const out = deps.out ?? ((b: Uint8Array) => { process.stdout.write(b); });
  const swarmKey = program.command('swarm-key').description('Make the pre-shared key of a private swarm');
  swarmKey.command('generate')
    .description('Write a new swarm key (give the same file to every node and client of the swarm)')
    .option('-o, --out <FILE>', 'write it to this new file (mode 0600) instead of stdout')
    .action(async function (this: Command) {
      const { out: file } = this.opts<{ out?: string }>();
      const { newSwarmKey } = await import('../actors/network/swarm-key.ts');
      const key = newSwarmKey();
      if (file === undefined) {
        out(key);
        out(new TextEncoder().encode('\n'));
        return;
      }
      try {
        writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EEXIST') throw new CommandFailedError(`${file} exists: not overwriting it (a swarm's nodes must all hold the same key); choose another file`);
        throw new CommandFailedError(`cannot write the swarm key to ${file}: ${e.message}`);
      }
      process.stderr.write(`Swarm key written to ${file}: give it to every node (network.swarm_key or MVP_NODE_SWARM_KEY) and client (--swarm-key) of the swarm\n`);
    });
  return swarmKey;
}
