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

/**
 * Calls a JSON-RPC method and returns its result. Throws AuthError on 401 (and tells
 * the onAuthNeeded listener), RpcError on an error answer, Error on anything else.
 * Methods of /system (system.*) go to that endpoint, the others to /tasks.
 */
export async function rpc(method, params = {}, { signal } = {}) {
  const endpoint = method.startsWith("system.") ? "/system" : "/tasks";
  const res = await fetch(endpoint, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: nextID++, method, params }),
    signal,
  });
  const body = await res.json().catch(() => null);
  if (res.status === 401) {
    const err = new AuthError(body && body.error && body.error.data && body.error.data.reason);
    authListener(err);
    throw err;
  }
  if (!body) throw new Error(`${method}: HTTP ${res.status} without a JSON answer`);
  if (body.error) throw new RpcError(body.error);
  return body.result;
}

/** GETs a route of the API as text (or JSON when json is true), with the token. */
export async function get(path, { json = false, signal } = {}) {
  const res = await fetch(path, { headers: headers(), signal });
  if (res.status === 401) {
    const err = new AuthError();
    authListener(err);
    throw err;
  }
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
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
  const text = await res.text();
  if (res.status === 401) {
    authListener(new AuthError());
    throw new AuthError();
  }
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
 * Follows a run over GET /events?root_task_id=: calls onEvent with each event object
 * until the stream ends or signal aborts; resolves then. fetch is used rather than
 * EventSource so that the token travels in the Authorization header.
 */
export async function follow(rootID, onEvent, signal) {
  const res = await fetch("/events?root_task_id=" + encodeURIComponent(rootID), { headers: headers(), signal });
  if (res.status === 401) {
    authListener(new AuthError());
    throw new AuthError();
  }
  if (!res.ok || !res.body) throw new Error(`GET /events: HTTP ${res.status}`);
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
