// The shell: hash routes to pages, the sign-in page, the theme.
import { rpc, setToken, token, onAuthNeeded, AuthError } from "./api.js";
import { h, fill, errorBlock } from "./dom.js";
import * as runs from "./runs.js";
import * as tree from "./tree.js";
import * as task from "./task.js";
import * as submit from "./submit.js";
import * as plugins from "./plugins.js";
import * as system from "./system.js";

// routes maps the first segment of a hash route to its page and its title. A page's
// render(view, args, live) may return a function that stops what it started (streams,
// timers); live() is false once the user has moved to another page.
const routes = {
  runs: { page: runs, title: "Runs" },
  tree: { page: tree, title: "Tree" },
  task: { page: task, title: "Task" },
  submit: { page: submit, title: "Submit" },
  plugins: { page: plugins, title: "Plugins" },
  system: { page: system, title: "System" },
};

// Why the sign-in page is shown: a fixed text per code, never text from the URL.
const loginReasons = {
  needed: "This server needs a token.",
  refused: "The token was refused (expired, revoked or for another server). Sign in again.",
  "signed-out": "Signed out.",
};

const view = () => document.getElementById("view");
let stopPage = null;
let rendering = 0; // the number of the latest render: an older one stops itself

/** The route in the hash: ["tree", "ID"] for #/tree/ID; ["runs"] by default; null for
 * a hash that is not a route (the skip link's #view). */
function currentRoute() {
  if (location.hash && !location.hash.startsWith("#/")) return null;
  try {
    const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
    return parts[0] ? parts : ["runs"];
  } catch {
    return ["not-found"];
  }
}

async function render() {
  const route = currentRoute();
  if (!route) return;
  const mine = ++rendering;
  if (stopPage) stopPage();
  stopPage = null;
  const [name, ...args] = route;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (name === "login") return renderLogin(args[0]);
  const r = routes[name];
  const v = view();
  document.title = `${r ? r.title : "Not found"} · apflow`;
  if (!r) {
    fill(v, h("h1", {}, "Not found"), h("p", {}, "No page ", h("code", {}, location.hash), ". ", h("a", { href: "#/runs" }, "Runs")));
    return;
  }
  fill(v, h("p", { class: "muted" }, "Loading…"));
  const live = () => mine === rendering;
  try {
    const stop = (await r.page.render(v, args, live)) || null;
    if (!live()) {
      if (stop) stop(); // the user moved on while this page loaded
      return;
    }
    stopPage = stop;
    const h1 = v.querySelector("h1");
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
  } catch (err) {
    if (err instanceof AuthError || !live()) return;
    fill(v, h("h1", {}, "Something went wrong"), errorBlock(err));
  }
}

/** The sign-in page: a token field; the token is checked with system.health. */
function renderLogin(code) {
  document.title = "Sign in · apflow";
  const v = view();
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "token-help" });
  const out = h("div", { id: "login-result", role: "alert" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    loginReasons[code] ? h("p", { class: "error-box" }, loginReasons[code]) : null,
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "token-help", class: "muted" }, "The bearer token the server's operator gave you (apflow token). It stays in this browser until you sign out."),
    h("button", { type: "submit", id: "signin" }, "Sign in"),
    out,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      await rpc("system.health");
      afterLogin();
    } catch (err) {
      setToken("");
      fill(out, errorBlock(err instanceof AuthError ? new Error("Refused: " + err.message) : err));
    }
  });
  fill(v, form);
  input.focus();
}

let returnTo = "#/runs";

function afterLogin() {
  document.getElementById("signout").hidden = !token();
  const to = returnTo;
  returnTo = "#/runs";
  if (location.hash === to) render();
  else location.hash = to;
}

onAuthNeeded(() => {
  const route = currentRoute();
  if (route && route[0] === "login") return; // the sign-in page shows its own refusal
  returnTo = location.hash || "#/runs";
  location.hash = "#/login/" + (token() ? "refused" : "needed");
});

function setupTheme() {
  const btn = document.getElementById("theme");
  const apply = (dark) => {
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    btn.setAttribute("aria-pressed", String(dark));
  };
  const saved = localStorage.getItem("apflow.theme");
  apply(saved ? saved === "dark" : matchMedia("(prefers-color-scheme: dark)").matches);
  btn.addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme !== "dark";
    localStorage.setItem("apflow.theme", dark ? "dark" : "light");
    apply(dark);
  });
}

function setupSignOut() {
  const btn = document.getElementById("signout");
  btn.hidden = !token();
  btn.addEventListener("click", () => {
    setToken("");
    btn.hidden = true;
    returnTo = "#/runs";
    location.hash = "#/login/signed-out";
  });
}

addEventListener("hashchange", render);
addEventListener("DOMContentLoaded", () => {
  setupTheme();
  setupSignOut();
  render();
});
