// Talking to a node's HTTP API in tests: its URL, JSON requests, and /metrics read by a real
// Prometheus text-format parser (prom2javascript), so what a scraper would reject fails here.
import { getMetricsFromIterator, type PromData, type PromHistogramData, type PromMetrics } from 'prom2javascript';
import type { MvpNode } from '../../src/node/create-node.ts';

export const apiUrl = (node: MvpNode) => node.supervisor.request<string>('api', { type: 'api.url' }, 5000);

export interface Answer<T = unknown> { status: number; type: string | null; body: T }

export async function call<T = unknown>(url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  const type = res.headers.get('content-type');
  return { status: res.status, type, body: (type?.startsWith('application/json') ? JSON.parse(text) : text) as T };
}

export const get = <T = unknown>(url: string, headers: Record<string, string> = {}) => call<T>(url, { headers });

/** POST with a JSON body (a string is sent as is, to send malformed JSON); no body at all when undefined. */
export const post = <T = unknown>(url: string, body?: unknown, headers: Record<string, string> = {}) => call<T>(url, {
  method: 'POST',
  ...(body === undefined ? { headers } : {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }),
});

export function parseMetrics(text: string): Promise<PromMetrics> {
  return getMetricsFromIterator(text.split('\n')[Symbol.iterator]());
}

/** The value of one series of a counter or gauge (labels must match exactly); undefined when absent. */
export function sample(metrics: PromMetrics, name: string, labels: Record<string, string> = {}): number | undefined {
  const m = metrics[name];
  if (!m) return undefined;
  const key = JSON.stringify(Object.entries(labels).sort());
  return (m.data as PromData[]).find((d) => JSON.stringify(Object.entries(d.labels).sort()) === key)?.value;
}

export function histogram(metrics: PromMetrics, name: string, labels: Record<string, string>): PromHistogramData | undefined {
  const key = JSON.stringify(Object.entries(labels).sort());
  return (metrics[name]?.data as PromHistogramData[] | undefined)?.find((d) => JSON.stringify(Object.entries(d.labels).sort()) === key);
}
