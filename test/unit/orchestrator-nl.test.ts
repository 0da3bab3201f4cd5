// The natural-language interface of `orchestrator ask`: the rule-based interpreter measured on a
// held-out corpus (written before the rules, never tuned on), its arguments, and what a local
// orchestrator answers for each kind of intent.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { INTENT_NAMES, INTENTS, capabilities, extractArgs, interpretByRules, parseLlmIntent, reconcile } from '../../src/actors/orchestrator/language.ts';
import { createLocalOrchestrator } from '../../src/actors/orchestrator/local.ts';
import { NL_CORPUS, type CorpusCase } from '../fixtures/nl-corpus.ts';
import { NL_DEV } from '../fixtures/nl-dev.ts';
import { testConfig } from '../helpers/config.ts';

/** A case counts as right when the intent matches and every argument it names matches too. */
function accuracy(cases: readonly CorpusCase[]): { right: number; total: number; misses: string[] } {
  const misses: string[] = [];
  for (const c of cases) {
    const r = interpretByRules(c.text);
    const argsOk = Object.entries(c.args ?? {}).every(([k, v]) => (r.args as Record<string, unknown>)[k] === v);
    if (r.intent !== c.intent || !argsOk) misses.push(`"${c.text}": expected ${c.intent}${c.args ? ` ${JSON.stringify(c.args)}` : ''}, got ${r.intent} ${JSON.stringify(r.args)}`);
  }
  return { right: cases.length - misses.length, total: cases.length, misses };
}

describe('orchestrator NL interpreter (rules)', () => {
  it('is at least 90 % accurate on the held-out corpus of at least 50 phrasings', (t) => {
    assert.ok(NL_CORPUS.length >= 50, `corpus has ${NL_CORPUS.length} phrasings`);
    const { right, total, misses } = accuracy(NL_CORPUS);
    const pct = (100 * right) / total;
    t.diagnostic(`held-out NL accuracy: ${right}/${total} = ${pct.toFixed(1)} %`);
    for (const m of misses) t.diagnostic(`miss: ${m}`);
    process.stdout.write(`# held-out NL accuracy: ${right}/${total} = ${pct.toFixed(1)} %\n`);
    assert.ok(pct >= 90, `accuracy ${pct.toFixed(1)} % < 90 %:\n${misses.join('\n')}`);
  });

  it('gets the development phrasings right (the list the rules were tuned on)', (t) => {
    const { right, total, misses } = accuracy(NL_DEV);
    t.diagnostic(`development NL accuracy: ${right}/${total}`);
    assert.deepEqual(misses, []);
  });

  it('covers every intent in the corpus', () => {
    const seen = new Set(NL_CORPUS.map((c) => c.intent));
    assert.deepEqual(INTENT_NAMES.filter((n) => !seen.has(n)), []);
  });

  it('reads a capacity, a factor or a direction from the sentence', () => {
    assert.deepEqual(extractArgs('scale_queue', 'scale the queue to 200'), { capacity: 200 });
    assert.deepEqual(extractArgs('scale_queue', 'double the queue'), { factor: 2 });
    assert.deepEqual(extractArgs('scale_queue', 'make the queue smaller'), { factor: 0.75 });
    assert.deepEqual(extractArgs('scale_queue', 'make the queue bigger'), { factor: 1.5 });
    assert.deepEqual(extractArgs('adjust_gossip', 'heartbeat factor 1.25'), { heartbeat_factor: 1.25 });
    assert.deepEqual(extractArgs('adjust_gossip', 'slow down the heartbeat'), { heartbeat_factor: 1.5 });
    assert.deepEqual(extractArgs('adjust_gossip', 'heartbeat faster'), { heartbeat_factor: 0.75 });
    assert.deepEqual(extractArgs('decide', 'where should jobs be routed?'), { decision_type: 'job_routing' });
    assert.deepEqual(extractArgs('decide', 'memory is low, what now'), { decision_type: 'context' });
    assert.deepEqual(extractArgs('decide', 'cpu is high, what now'), { decision_type: 'infrastructure' });
  });

  it('gives concrete commands for each intent', () => {
    assert.deepEqual(interpretByRules('show me all connected nodes').commands, [{ command: 'mvp-node peers', args: [] }]);
    assert.deepEqual(interpretByRules('scale the queue to 200').commands, [{ command: 'scale_queue', args: ['capacity=200'] }]);
    const decide = interpretByRules('what should I do about the high cpu usage?');
    assert.deepEqual(decide.commands[0]?.args.slice(-2), ['--decision-type', 'infrastructure']);
    assert.deepEqual(interpretByRules('order me a pizza').commands, []);
  });

  it('lists every intent but unknown in its help text', () => {
    const help = capabilities();
    for (const n of INTENT_NAMES.filter((x) => x !== 'unknown')) assert.match(help, new RegExp(`\\b${n}\\b.*${INTENTS[n].example.replace(/[?]/g, '\\?')}`));
  });

  it('reads a model\'s intent answer, and refuses one that is not an intent', () => {
    const i = parseLlmIntent('{"intent":"scale_queue","argument":"300"}', 'make the queue bigger');
    assert.deepEqual([i.intent, i.args.capacity, i.source], ['scale_queue', 300, 'llm']);
    // An argument that is not a number is ignored: the sentence's own reading stands.
    assert.deepEqual(parseLlmIntent('{"intent":"scale_queue","argument":"lots"}', 'make the queue bigger').args, { factor: 1.5 });
    assert.throws(() => parseLlmIntent('{"intent":"launch_rockets","argument":""}', 'x'));
    assert.throws(() => parseLlmIntent('{"intent":', 'x'));
  });
});

describe('a model\'s reading checked against the rules', () => {
  const model = (text: string, intent: string, argument = '') => parseLlmIntent(JSON.stringify({ intent, argument }), text);

  it('answers the question when the rules read one, whatever action the model read', () => {
    const r = reconcile(model('is the queue big enough?', 'scale_queue', '300'), interpretByRules('is the queue big enough?'));
    assert.deepEqual([r.intent, r.source, r.hold_reason, r.check], ['queue_status', 'rules', undefined, { model_intent: 'scale_queue', rules_intent: 'queue_status', verdict: 'question' }]);
  });

  it('lets an action through the gate as usual when the rules read the same action and arguments', () => {
    const r = reconcile(model('scale the queue to 300', 'scale_queue', '300'), interpretByRules('scale the queue to 300'));
    assert.deepEqual([r.intent, r.args, r.hold_reason, r.check?.verdict], ['scale_queue', { capacity: 300 }, undefined, 'agreed']);
    assert.equal(r.confidence, interpretByRules('scale the queue to 300').confidence);
  });

  it('holds the model\'s action when the rules read another action, other arguments or nothing', () => {
    const other = reconcile(model('scale the queue to 300', 'adjust_gossip'), interpretByRules('scale the queue to 300'));
    assert.deepEqual([other.intent, other.check?.verdict], ['adjust_gossip', 'unconfirmed']);
    assert.match(other.hold_reason!, /^the model read adjust_gossip .* but the rules read scale_queue: held until an operator confirms it$/);
    const args = reconcile(model('scale the queue to 300', 'scale_queue', '400'), interpretByRules('scale the queue to 300'));
    assert.match(args.hold_reason!, /the rules read it with \{"capacity":300\}/);
    const unknown = reconcile(model('order me a pizza', 'decide'), interpretByRules('order me a pizza'));
    assert.match(unknown.hold_reason!, /the rules did not understand the request/);
  });

  it('uses a reading that changes nothing as it is', () => {
    const m = model('scale the queue to 300', 'list_models');
    assert.deepEqual(reconcile(m, interpretByRules('scale the queue to 300')), m);
  });
});

describe('orchestrator ask, local (no running node)', async () => {
  const orch = await createLocalOrchestrator(testConfig());
  after(() => orch.close());

  it('answers help and unknown requests with what it can do', async () => {
    const help = await orch.ask('what can you do?');
    assert.equal(help.interpretation.intent, 'help');
    assert.match(help.message, /list_peers/);
    const unknown = await orch.ask('order me a pizza');
    assert.equal(unknown.interpretation.intent, 'unknown');
    assert.match(unknown.message, /^I did not understand "order me a pizza"\.\nI understand requests like these:/);
  });

  it('says that node questions need a running node, and marks the answer local', async () => {
    const r = await orch.ask('show me all connected nodes');
    assert.equal(r.interpretation.intent, 'list_peers');
    assert.equal(r.local, true);
    assert.equal(r.data, undefined);
    assert.match(r.message, /no running node/);
  });

  it('shows this host\'s metrics and decides locally, executing nothing', async () => {
    const m = await orch.ask('show metrics');
    assert.equal(typeof (m.data as { node: { cpu: number } }).node.cpu, 'number');
    const d = await orch.ask('scale the queue to 200');
    assert.equal(d.decision?.source, 'user');
    assert.equal(d.decision?.params.capacity, 200);
    assert.equal(d.decision?.outcome, 'not_executed');
    assert.equal(d.decision?.local, true);
    const advice = await orch.ask('what should I do about the high cpu usage?');
    assert.equal(advice.decision?.source, 'heuristic');
    const explained = await orch.ask('explain the last decisions');
    assert.deepEqual((explained.data as Array<{ id: string }>).map((x) => x.id), [advice.decision!.id, d.decision!.id]);
  });
});
