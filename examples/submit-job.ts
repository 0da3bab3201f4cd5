// Submitting a job from your own program: the same light client `mvp-node submit` uses.
//
//   npx mvp-node --node-id node1 --port 4001           # in another terminal
//   node --import tsx --import ./src/polyfill.ts examples/submit-job.ts /ip4/127.0.0.1/tcp/4001 "Hello"
//
// A private swarm (nodes started with network.swarm_key): pass the same key file in
// MVP_NODE_SWARM_KEY, or as a third argument.
import { submitJob, NoExecutorError } from '../src/client/submit.ts';
import { verifyReceipt } from '../src/protocol/index.ts';
import { readSwarmKey } from '../src/actors/network/swarm-key.ts';

const [bootstrap = '/ip4/127.0.0.1/tcp/4001', prompt = 'Hello', keyFile = process.env.MVP_NODE_SWARM_KEY] = process.argv.slice(2);

try {
  const result = await submitJob({
    bootstrap: [bootstrap],
    ...(keyFile ? { swarmKey: readSwarmKey(keyFile) } : {}),
    prompt,
    maxTokens: 32,
    temperature: 0,
    seed: 42,
    priority: 'normal',
    timeoutMs: 30_000,
    onToken: (text) => process.stdout.write(text),
    onNote: (note) => console.error(`# ${note}`),
  });
  const { body } = result.receipt;
  console.log(`\n\n${body.tokens_out} tokens from ${result.executor} at ${body.timings.tokens_per_s.toFixed(1)} tokens/s`);

  // Anyone holding the receipt can check it later, with nothing but the receipt (and the text).
  const check = await verifyReceipt(result.receipt, { text: result.text, prompt });
  console.log(check.ok ? 'receipt verified' : `receipt rejected: ${check.check}: ${check.reason}`);
} catch (err) {
  if (err instanceof NoExecutorError) console.error(`no node took the job: ${err.message}`);
  else throw err;
  process.exitCode = 1;
}
