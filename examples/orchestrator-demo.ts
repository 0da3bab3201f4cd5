// The orchestrator from your own program (the seed's programmatic API): makeDecision(context,
// type) and interpretNaturalLanguage(text), first by the heuristics, then by a local model.
//
//   node --import tsx --import ./src/polyfill.ts examples/orchestrator-demo.ts [model.gguf]
//
// Without an argument the model part uses a generated test model (random weights: its choices
// are noise, but the JSON-schema grammar makes every answer a well-formed decision). A real
// instruction model (e.g. Llama 3.2 1B/3B GGUF) gives real ones. These orchestrators are local:
// they decide on this host's figures and execute nothing; a running node's orchestrator is
// reached with `mvp-node orchestrator …` or its HTTP API (/orchestrator/...).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../src/config/index.ts';
import { createLocalOrchestrator } from '../src/actors/orchestrator/local.ts';
import { writeTestModel } from '../src/models/index.ts';
import type { Orchestrator } from '../src/actors/orchestrator/orchestrator.ts';

async function demo(title: string, orchestrator: Orchestrator): Promise<void> {
  console.log(`\n=== ${title} (${orchestrator.status().mode}) ===`);
  // Metrics are given here so the demo shows the same situation on any machine; leave them out
  // to decide on the host's own figures.
  const metrics = { queue_depth: 85, queue_capacity: 100, cpu: 0.9, mem_free_mb: 3000, peers: 3 };
  const decision = await orchestrator.makeDecision('High CPU usage detected, queue at 85%', 'infrastructure', { metrics });
  console.log(`Decision:   ${decision.action} ${JSON.stringify(decision.params)}`);
  console.log(`Confidence: ${(decision.confidence * 100).toFixed(1)}%  (source ${decision.source}${decision.fallback_reason ? `, fallback: ${decision.fallback_reason}` : ''})`);
  console.log(`Reasoning:  ${decision.reasoning}`);
  console.log(`Outcome:    ${decision.outcome} — ${decision.outcome_reason ?? ''}`);

  const result = await orchestrator.interpretNaturalLanguage('show me the status of all nodes');
  console.log(`Intent:     ${result.intent} (${result.source})`);
  for (const cmd of result.commands) console.log(`Execute:    ${cmd.command} ${JSON.stringify(cmd.args)}`);
}

const config = loadConfig({ env: {} });

const heuristic = await createLocalOrchestrator(config);
try {
  await demo('Heuristic orchestrator', heuristic);
} finally {
  await heuristic.close();
}

let modelPath = process.argv[2];
if (!modelPath) {
  modelPath = join(tmpdir(), 'mvp-node-orchestrator-demo.gguf');
  await writeTestModel({ preset: 'tiny', out: modelPath });
  console.log(`\n(no model given: generated a test model with random weights at ${modelPath})`);
}
// The same keys as config.toml's [orchestrator] table; here in a file of their own.
const file = join(mkdtempSync(join(tmpdir(), 'orchestrator-demo-')), 'config.toml');
writeFileSync(file, `[orchestrator]\nmodel_path = ${JSON.stringify(modelPath)}\ndevice = "auto"\n\n[orchestrator.generation]\nmax_tokens = 256\n`);
const withModel = await createLocalOrchestrator(loadConfig({ file, env: {} }));
try {
  await demo('LLM orchestrator', withModel);
  console.log(`\nModel: ${JSON.stringify(withModel.status().model)} on ${withModel.status().device.used}; tokens: ${JSON.stringify(withModel.metrics().llm.tokens)}`);
} finally {
  await withModel.close();
}
