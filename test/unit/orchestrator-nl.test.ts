// The natural-language interface of `orchestrator ask`: the rule-based interpreter on its
// development set (the phrasings its rules are tuned on, so its score there is a development
// figure, not a measure of how it does on new phrasings), on any set named by NL_EVAL, its
// arguments, the check of a model's reading against the rules, and what a local orchestrator
// answers for each kind of intent.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { INTENT_NAMES, INTENTS, capabilities, extractArgs, interpretByRules, parseLlmIntent, reconcile } from '../../src/actors/orchestrator/language.ts';
import { createLocalOrchestrator } from '../../src/actors/orchestrator/local.ts';
import { loadNlSet, percent, scoreNl } from '../helpers/nl-score.ts';
import { testConfig } from '../helpers/config.ts';

const DEV_SET = fileURLToPath(new URL('../fixtures/nl-dev.json', import.meta.url));

describe('orchestrator NL interpreter (rules)', () => {
  const dev = loadNlSet(DEV_SET);

  it('gets at least 97 % of its development set right (a development figure: the rules are tuned on it)', (t) => {
    assert.ok(dev.length >= 500, `development set has ${dev.length} phrasings`);
    const s = scoreNl(dev);
    t.diagnostic(`development-set NL accuracy: ${s.right}/${s.total} = ${percent(s).toFixed(1)} %`);
    for (const m of s.misses) t.diagnostic(`miss: ${m}`);
    assert.ok(percent(s) >= 97, `development accuracy ${percent(s).toFixed(1)} % < 97 %:\n${s.misses.join('\n')}`);
  });

  it('has every intent, and about 15 % out-of-domain phrasings, in its development set', () => {
    const seen = new Set(dev.map((c) => c.intent));
    assert.deepEqual(INTENT_NAMES.filter((n) => !seen.has(n)), []);
    const unknown = dev.filter((c) => c.intent === 'unknown').length / dev.length;
    assert.ok(unknown >= 0.1 && unknown <= 0.2, `${(100 * unknown).toFixed(1)} % out of domain`);
  });

  it('does not take the help examples from its development set', () => {
    const texts = new Set(dev.map((c) => c.text.toLowerCase()));
    assert.deepEqual(INTENT_NAMES.filter((n) => texts.has(INTENTS[n].example.toLowerCase())), []);
  });

  it('scores the set named by NL_EVAL, if any (a JSON array of { text, intent, args? })', { skip: process.env.NL_EVAL ? false : 'NL_EVAL is not set' }, (t) => {
    const file = process.env.NL_EVAL!;
    const s = scoreNl(loadNlSet(file));
    for (const m of s.misses) t.diagnostic(`miss: ${m}`);
    t.diagnostic(`${file}: ${s.right}/${s.total} = ${percent(s).toFixed(1)} %`);
    process.stdout.write(`# ${file}: ${s.right}/${s.total} = ${percent(s).toFixed(1)} %\n`);
    assert.ok(s.total > 0, `${file} holds no phrasings`);
  });

  it('refuses a set that is not an array of { text, intent }, naming the entry', () => {
    const bad = fileURLToPath(new URL('../fixtures/nl-bad-set.json', import.meta.url));
    assert.throws(() => loadNlSet(bad), /nl-bad-set\.json: entry 1: intent "launch_rockets" is not one of list_peers, /);
    assert.throws(() => loadNlSet('/nonexistent/set.json'), /^Error: \/nonexistent\/set\.json: cannot read a JSON set of phrasings/);
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

  it('reads factors as the argument conventions say', () => {
    const queue: Array<[string, number]> = [['double the queue', 2], ['triple the queue', 3], ['halve the queue', 0.5],
      ['make the queue 1.5x bigger', 1.5], ['grow the queue by 50%', 1.5], ['shrink the queue by 25%', 0.75], ['multiply the queue by 4', 4]];
    for (const [text, factor] of queue) assert.deepEqual(extractArgs('scale_queue', text), { factor }, text);
    // heartbeat_factor multiplies the heartbeat INTERVAL: faster is below 1.
    const gossip: Array<[string, number]> = [['heartbeat twice as often', 0.5], ['halve the heartbeat interval', 0.5],
      ['heartbeat half as often', 2], ['double the heartbeat interval', 2], ['double the heartbeat frequency', 0.5],
      ['halve the heartbeat rate', 2], ['speed up gossip by a factor of 2', 0.5], ['slow gossip down by 1.5x', 1.5],
      ['heartbeats three times as often', 0.33], ['set the heartbeat factor to 0.6', 0.6]];
    for (const [text, f] of gossip) assert.deepEqual(extractArgs('adjust_gossip', text), { heartbeat_factor: f }, text);
  });

  it('reads the argument from the clause asking for the change, not from figures given as background', () => {
    assert.deepEqual(interpretByRules('the CPU is at 90% and the queue is growing; please double the queue').args, { factor: 2 });
    assert.deepEqual(interpretByRules('I think the queue is too small, can you bump it to 300?').args, { capacity: 300 });
    assert.deepEqual(interpretByRules('queue capacity should be 1,200, change it').args, { capacity: 1200 });
    assert.deepEqual(interpretByRules('Is the queue full? If so, double it.').intent, 'scale_queue');
  });

  it('reads a question about a state as a read intent, and the same words as a command as an action', () => {
    for (const [question, command, action] of [
      ['is the queue big enough?', 'make the queue big enough', 'scale_queue'],
      ['is the heartbeat too slow?', 'make the heartbeat faster', 'adjust_gossip'],
      ['who is the coordinator?', 'pick a new coordinator', 'start_election'],
      ['why did you scale the queue?', 'could you scale the queue to 300?', 'scale_queue'],
    ] as const) {
      assert.equal(INTENTS[interpretByRules(question).intent].kind, 'read', question);
      assert.equal(interpretByRules(command).intent, action, command);
    }
  });

  it('leaves the operator\'s own devices and everyday requests out of its domain', () => {
    for (const text of ['how much memory does my laptop have?', 'what is the weather in Paris?', 'write a python function that adds two numbers']) {
      assert.equal(interpretByRules(text).intent, 'unknown', text);
    }
  });

  it('gives concrete commands for each intent', () => {
    assert.deepEqual(interpretByRules('show me all connected nodes').commands, [{ command: 'mvp-node peers', args: [] }]);
    assert.deepEqual(interpretByRules('scale the queue to 200').commands, [{ command: 'scale_queue', args: ['capacity=200'] }]);
    const decide = interpretByRules('what should I do about the high cpu usage?');
    assert.deepEqual(decide.commands[0]?.args.slice(-2), ['--decision-type', 'infrastructure']);
    assert.deepEqual(interpretByRules('order me a pizza').commands, []);
  });

  it('understands each example its help text gives', () => {
    for (const n of INTENT_NAMES) assert.equal(interpretByRules(INTENTS[n].example).intent, n, INTENTS[n].example);
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
    // Asking what to do is a question: its decision is held (or refused), never accepted as it stands.
    assert.notEqual(advice.decision?.verdict, 'accepted');
    assert.match(advice.decision!.outcome_reason!, /would have held it for confirmation \(asked what to do: held until an operator confirms it|not available/);
    const explained = await orch.ask('explain the last decisions');
    assert.deepEqual((explained.data as Array<{ id: string }>).map((x) => x.id), [advice.decision!.id, d.decision!.id]);
  });
});
