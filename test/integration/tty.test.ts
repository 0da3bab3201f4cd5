// What a user at a terminal sees: human-readable log lines, and the model's loading progress.
// The node runs under `script`, which gives it a pseudo-terminal (util-linux).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { BIN } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { commandMissing, describeNeeding } from '../helpers/needs.ts';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describeNeeding('on a terminal', commandMissing('script', ['--version'], 'util-linux `script` (a pseudo-terminal)'), () => {
  it('shows the model loading progress and pretty log lines', async () => {
    const dir = tmpDir();
    const cmd = [process.execPath, BIN, '--port', '0', '--data-dir', dir, '--log-level', 'info'].map(quote).join(' ');
    const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MVP_NODE_MDNS: 'false' } });
    let out = '';
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Node started" within 60 s:\n${out}`)), 60_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Node started')) { clearTimeout(timer); resolve(); }
      });
    });
    try {
      await started;
    } finally {
      proc.kill('SIGKILL'); // the node gets SIGHUP when its terminal goes; make sure
      spawnSync('pkill', ['-KILL', '-f', `--data-dir ${dir}`]);
    }
    assert.match(out, /\rLoading model mvp-test-tiny \d+%/, 'a progress line redrawn in place');
    assert.match(out, /INFO.*Model loaded/, 'pretty (not JSON) log lines');
    assert.doesNotMatch(out, /^\{"level"/m, 'no JSON lines on a terminal');
  });
});
