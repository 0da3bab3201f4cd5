// The README's quick start, run as written: the commands are read out of the code block under
// "## Quick start" in README.md, so the docs cannot drift from the program. The first command
// starts the node (left running); each other one must exit 0, in order. What differs from a
// user's machine: the port 4001 is replaced by a free one (other nodes may run here); HOME is a
// fresh directory (so `~/.local/share/mvp-node` is empty); and MVP_NODE_CONFIG names a file
// raising `executor.max_load_per_core`, because a node claims no job while the machine's load
// is 2 per core or more, which a CI machine running other tests beside this one often is.
// `npx mvp-node` runs from a project that has mvp-node installed (linked to this checkout),
// offline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/config.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const README_PORT = '4001';

/** The commands of the first bash block after the "## Quick start" heading. */
function quickStartCommands(readme: string): string[] {
  const section = readme.split(/^## Quick start\s*$/m)[1];
  assert.ok(section, 'README.md has a "## Quick start" section');
  const block = /```bash\n([\s\S]*?)```/.exec(section.split(/^## /m)[0]!)?.[1];
  assert.ok(block, 'the quick start has a ```bash block');
  return block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('README quick start, as written', () => {
  const commands = quickStartCommands(readFileSync(join(root, 'README.md'), 'utf8'));
  let cwd = '';
  let env: NodeJS.ProcessEnv = {};
  let port = 0;
  let node: ChildProcess | undefined;
  let nodeOut = '';
  const shell = (cmd: string) => cmd.replaceAll(README_PORT, String(port));

  before(async () => {
    const dir = tmpDir();
    cwd = join(dir, 'app');
    mkdirSync(join(cwd, 'node_modules', '.bin'), { recursive: true });
    mkdirSync(join(dir, 'home'));
    writeFileSync(join(cwd, 'package.json'), JSON.stringify({ name: 'quick-start', private: true }));
    symlinkSync(root, join(cwd, 'node_modules', 'mvp-node'));
    symlinkSync('../mvp-node/bin/mvp-node.js', join(cwd, 'node_modules', '.bin', 'mvp-node'));
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MVP_NODE_') && k !== 'XDG_DATA_HOME'));
    const config = join(dir, 'loaded-machine.toml');
    writeFileSync(config, '[executor]\nmax_load_per_core = 1000\n');
    env = {
      ...inherited, HOME: join(dir, 'home'), MVP_NODE_CONFIG: config, MVP_NODE_MDNS: 'false',
      npm_config_offline: 'true', npm_config_update_notifier: 'false',
    };
    port = await freePort();
  });

  after(async () => {
    if (node?.exitCode === null && node.signalCode === null) {
      const exited = new Promise((resolve) => node!.once('exit', resolve));
      process.kill(-node.pid!, 'SIGTERM');
      await exited;
    }
  });

  it('starts a node, reads its status, runs a job and verifies its receipt', async (t) => {
    assert.deepEqual(commands.map((c) => c.split(' ').slice(0, 2).join(' ')),
      ['npx mvp-node', 'npx mvp-node', 'npx mvp-node', 'npx mvp-node', 'npx mvp-node']);
    const [start, ...rest] = commands;
    assert.match(start!, /--port 4001/, 'the node command names the port the others use');
    assert.deepEqual(rest.map((c) => c.split(' ')[2]), ['status', 'submit', 'submit', 'verify-receipt']);

    node = spawn('bash', ['-c', shell(start!)], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    node.stdout!.on('data', (d) => { nodeOut += d; });
    node.stderr!.on('data', (d) => { nodeOut += d; });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Node started" within 120 s:\n${nodeOut.slice(-2000)}`)), 120_000);
      const check = () => { if (nodeOut.includes('"msg":"Node started')) { clearTimeout(timer); resolve(); } };
      node!.stdout!.on('data', check);
      node!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the node exited (${code}):\n${nodeOut.slice(-2000)}`)); });
    });
    assert.match(nodeOut, new RegExp(`Listening on /ip4/127\\.0\\.0\\.1/tcp/${port}/p2p/`));

    const outputs: string[] = [];
    for (const cmd of rest) {
      const r = spawnSync('bash', ['-c', shell(cmd)], { cwd, env, encoding: 'utf8', timeout: 120_000 });
      t.diagnostic(`$ ${cmd}\n${r.stdout.trim()}`);
      assert.equal(r.status, 0, `${cmd} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
      outputs.push(r.stdout);
    }
    const [status, submitted, , verified] = outputs;
    assert.match(status!, /node1/);
    assert.ok(submitted!.trim().length > 0, 'submit printed the generated text');
    const result = JSON.parse(readFileSync(join(cwd, 'result.json'), 'utf8')) as { text: string; receipt: { body: { status: string; job_id: string } } };
    assert.equal(result.receipt.body.status, 'completed');
    assert.match(verified!, new RegExp(`^Receipt ${result.receipt.body.job_id} verified: .*status completed`));
  });
});
