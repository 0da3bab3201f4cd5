#!/usr/bin/env node
// The `mvp-node` command. TypeScript runs as-is through tsx's loader (no build step, so the
// command works right after `npm ci`); the polyfill is loaded before anything imports libp2p.
import { register } from 'tsx/esm/api';

register();
await import('../src/polyfill.ts');
await import('../src/cli/main.ts');
