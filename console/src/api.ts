// Requests to the node that served this page: same origin, the token (when one is set) in the
// Authorization header — never in a URL, never in a cookie. It is kept in sessionStorage: once
// per tab, gone when the tab closes.
const TOKEN_KEY = 'mvp-node.token';

export const savedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const saveToken = (t: string) => sessionStorage.setItem(TOKEN_KEY, t);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const t = savedToken();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

/** A refusal from the node: its `{ code, message }` (or the OpenAI-shaped `{ error }`) and status. */
export class NodeError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

export class Unauthorized extends NodeError {}

async function refusal(res: Response): Promise<NodeError> {
  let code = `http_${res.status}`;
  let message = res.statusText;
  try {
    const b = await res.json() as { code?: string; message?: string; error?: { code?: string; message?: string } };
    code = b.code ?? b.error?.code ?? code;
    message = b.message ?? b.error?.message ?? message;
  } catch { /* not JSON: the status says it */ }
  return res.status === 401 ? new Unauthorized(401, code, message) : new NodeError(res.status, code, message);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: authHeaders(), ...(signal ? { signal } : {}) });
  if (!res.ok) throw await refusal(res);
  return await res.json() as T;
}

export async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: authHeaders(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw await refusal(res);
  return await res.json() as T;
}

export { refusal };
