// The dashboard's only way to the server: the API's own routes, with the user's token.

const tokenKey = "apflow.token";

/** The token the user signed in with, or "" (kept in this browser's localStorage). */
export function token() {
  return localStorage.getItem(tokenKey) || "";
}

/** Keeps t as the token of every later call; "" forgets it. */
export function setToken(t) {
  if (t) localStorage.setItem(tokenKey, t);
  else localStorage.removeItem(tokenKey);
}

/** AuthError: the server wants a (valid) token: HTTP 401, with its reason. */
export class AuthError extends Error {
  constructor(reason) {
    super(reason || "a token is required");
    this.name = "AuthError";
  }
}

/** RpcError: a JSON-RPC error answer: code, message and data as the server sent them. */
export class RpcError extends Error {
  constructor(err) {
    super(describe(err));
    this.name = "RpcError";
    this.code = err.code;
    this.data = err.data;
  }
}

// describe is an RPC error as one readable line: the message, then its data's reason.
function describe(err) {
  const d = err.data;
  if (typeof d === "string") return `${err.message}: ${d}`;
  if (d && typeof d.reason === "string") return `${err.message}: ${d.field ? d.field + ": " : ""}${d.reason}`;
  if (d && typeof d.message === "string") return `${err.message}: ${d.message}`;
  return err.message;
}

// onAuthNeeded is called when a call is refused for want of a token.
let authListener = () => {};

/** Sets the function called whenever the server answers 401. */
export function onAuthNeeded(fn) {
  authListener = fn;
}

function headers(extra = {}) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

let nextID = 1;

/** refused handles a 401 answer: the server's reason (error.data.reason) as an AuthError,
 * after telling the onAuthNeeded listener. */
async function refused(res) {
  const body = await res.json().catch(() => null);
  const reason = body && body.error && body.error.data && body.error.data.reason;
  const err = new AuthError(reason);
  authListener(err);
  return err;
}

/**
 * Calls a JSON-RPC method and returns its result. Throws AuthError on 401 (and tells
 * the onAuthNeeded listener), RpcError on an error answer, Error on anything else.
 * Methods of /system (system.*) go to that endpoint, the others to /tasks.
 */
export async function rpc(method, params = {}) {
  const res = await post(method, params);
  if (res.status === 401) throw await refused(res);
  const body = await res.json().catch(() => null);
  if (!body) throw new Error(`${method}: HTTP ${res.status} without a JSON answer`);
  if (body.error) throw new RpcError(body.error);
  return body.result;
}

/**
 * Calls several JSON-RPC methods of /tasks in one batch (at most 100, the server's
 * default) and returns, in the calls' order, each result, or the RpcError of a call that
 * failed (thrown only for the whole batch's failure).
 */
export async function rpcBatch(calls) {
  const first = nextID;
  nextID += calls.length;
  const res = await fetch("/tasks", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(calls.map(([method, params], i) => ({ jsonrpc: "2.0", id: first + i, method, params }))),
  });
  if (res.status === 401) throw await refused(res);
  const body = await res.json().catch(() => null);
  if (!Array.isArray(body)) throw new Error(`batch: HTTP ${res.status}: ${body && body.error ? describe(body.error) : "not a batch answer"}`);
  const byID = new Map(body.map((r) => [r.id, r]));
  return calls.map((_, i) => {
    const r = byID.get(first + i);
    if (!r) return new Error("no answer in the batch");
    return r.error ? new RpcError(r.error) : r.result;
  });
}

function post(method, params) {
  const endpoint = method.startsWith("system.") ? "/system" : "/tasks";
  return fetch(endpoint, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: nextID++, method, params }),
  });
}

/**
 * Starts a run with tasks.execute (params: task_id, or tasks) and returns its first
 * answer (status "started") without waiting for the run's end: the call streams
 * (use_streaming), and the stream is closed after its first frame; the run goes on in
 * the server. Throws as rpc does when the run cannot start.
 */
export async function startRun(params) {
  const res = await post("tasks.execute", { ...params, use_streaming: true });
  if (res.status === 401) throw await refused(res);
  if (!(res.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
    const body = await res.json().catch(() => null);
    if (body && body.error) throw new RpcError(body.error);
    throw new Error(`tasks.execute: HTTP ${res.status} without a stream`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    while (!buf.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const data = buf.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
  const first = JSON.parse(data || "null");
  if (first && first.error) throw new RpcError(first.error);
  return first && first.result;
}

/**
 * GETs a route of the API as text (or JSON when json is true), with the token. A 404
 * throws an Error whose status is 404.
 */
export async function get(path, { json = false } = {}) {
  const res = await fetch(path, { headers: headers() });
  if (res.status === 401) throw await refused(res);
  if (!res.ok) {
    const err = new Error(`GET ${path}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    err.status = res.status;
    throw err;
  }
  return json ? res.json() : res.text();
}

/**
 * Uploads a .wasm module (POST /plugins?name=): the plugin hot-loads. Returns the
 * server's answer (id, hash, schemas); throws with the server's message when refused.
 */
export async function uploadPlugin(file) {
  const res = await fetch("/plugins?name=" + encodeURIComponent(file.name.replace(/\.wasm$/, "")), {
    method: "POST",
    headers: headers({ "Content-Type": "application/wasm" }),
    body: file,
  });
  if (res.status === 401) throw await refused(res);
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: the text is the message */
  }
  if (!res.ok) {
    const msg = body && (body.message || (body.error && (body.error.message || body.error)));
    throw new Error(`upload refused (HTTP ${res.status}): ${typeof msg === "string" ? msg : text}`);
  }
  return body;
}

/**
 * Follows a run over GET /events?root_task_id=: calls onOpen once the stream is open
 * (events from then on are delivered), then onEvent with each event object until the
 * stream ends or signal aborts; resolves then. fetch is used rather than
 * EventSource so that the token travels in the Authorization header.
 */
export async function follow(rootID, onEvent, signal, onOpen = () => {}) {
  const res = await fetch("/events?root_task_id=" + encodeURIComponent(rootID), { headers: headers(), signal });
  if (res.status === 401) throw await refused(res);
  if (!res.ok || !res.body) throw new Error(`GET /events: HTTP ${res.status}`);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      let ev;
      try {
        ev = JSON.parse(data);
      } catch {
        continue;
      }
      onEvent(ev);
      if (ev.type === "stream_end") return;
    }
  }
}
