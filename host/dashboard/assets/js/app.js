// The shell: hash routes to pages, the sign-in page, the theme.
import { rpc, setToken, token, onAuthNeeded, AuthError } from "./api.js";
import { h, fill, errorBlock } from "./dom.js";
import * as runs from "./runs.js";
import * as tree from "./tree.js";
import * as task from "./task.js";
import * as submit from "./submit.js";
import * as plugins from "./plugins.js";
import * as system from "./system.js";

// routes maps the first segment of a hash route to its page; a page's render(view,
// args) may return a function that stops what it started (streams, timers).
const routes = { runs, tree, task, submit, plugins, system };

const view = () => document.getElementById("view");
let stopPage = null;

/** The route in the hash: ["tree", "ID"] for #/tree/ID; ["runs"] by default. */
function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
  return parts[0] ? parts : ["runs"];
}

async function render() {
  if (stopPage) stopPage();
  stopPage = null;
  const [name, ...args] = currentRoute();
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (name === "login") return renderLogin(args[0]);
  const page = routes[name];
  const v = view();
  if (!page) {
    fill(v, h("h1", {}, "Not found"), h("p", {}, "No page ", h("code", {}, location.hash), ". ", h("a", { href: "#/runs" }, "Runs")));
    return;
  }
  fill(v, h("p", { class: "muted" }, "Loading…"));
  try {
    stopPage = (await page.render(v, args)) || null;
  } catch (err) {
    if (err instanceof AuthError) return;
    fill(v, h("h1", {}, "Something went wrong"), errorBlock(err));
  }
}

/** The sign-in page: a token field; the token is checked with system.health. */
function renderLogin(reason) {
  const v = view();
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "token-help" });
  const out = h("div", { id: "login-result", role: "alert" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    reason ? h("p", { class: "error-box" }, reason) : null,
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "token-help", class: "muted" }, "The bearer token the server's operator gave you (apflow token mint). It stays in this browser until you sign out."),
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
  location.hash = returnTo;
  if (returnTo === location.hash) render();
}

onAuthNeeded((err) => {
  if (currentRoute()[0] === "login") return; // the sign-in page shows its own refusal
  returnTo = location.hash || "#/runs";
  location.hash = "#/login/" + encodeURIComponent(token() ? "The token was refused: " + err.message : "This server needs a token.");
});

function setupTheme() {
  const btn = document.getElementById("theme");
  const apply = (dark) => {
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    btn.setAttribute("aria-pressed", String(dark));
    btn.textContent = dark ? "Light mode" : "Dark mode";
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
    location.hash = "#/login/" + encodeURIComponent("Signed out.");
  });
}

addEventListener("hashchange", render);
addEventListener("DOMContentLoaded", () => {
  setupTheme();
  setupSignOut();
  render();
});
