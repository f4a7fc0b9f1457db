// The console's shell: routes, the page view cycle, the navigation and the account bar.
//
// A page view is: read the route, load the panel's data and the caller (GET /auth/me) in
// parallel, ask every authorization question of the view in ONE POST /authz/check, then
// render. Panels (one module each, listed in panels/index.js) say which questions they
// need; nothing here or there knows what a role may do. While signed in, the page follows
// the caller's live updates (live.js): a panel's `live` says what an event means to it.

import { ApiError, api, session, whenSessionLost } from "./api.js";
import { ask, question } from "./authz.js";
import { h, loading, replace } from "./dom.js";
import * as liveUpdates from "./live.js";
import { PANELS } from "./panels/index.js";
import * as signin from "./panels/signin.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const account = document.getElementById("account");
const toastBox = document.getElementById("toast");

let currentView = 0;
let toastTimer;
let shown = null; // the page on screen: {panel, ctx, data}
let edited = false; // the reader typed into the page since it was rendered
let refreshing = null;

/** A short message that screen readers announce and sighted users see for a while. */
function toast(message) {
  toastBox.textContent = message;
  toastBox.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastBox.classList.remove("shown"), 5000);
}

/** The route in the address: "#/tickets/1?x=y" -> {path: "/tickets/1", query}. */
function route() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/tickets";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

function navigate(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

function findPanel(path) {
  for (const panel of PANELS) {
    const match = panel.pattern.exec(path);
    if (match) return { panel, params: match.slice(1) };
  }
  return null;
}

/** The navigation's questions: for each company, the permission behind each panel link. */
function navQuestions(me) {
  return PANELS.filter((p) => p.nav && !p.nav.always).flatMap((p) =>
    me.memberships.map((m) => question(p.nav.permission, { companyId: m.company_id })),
  );
}

function link(href, label, current) {
  return h("li", {}, h("a", { href, "aria-current": current === href ? "page" : null }, label));
}

function renderNav(me, answers) {
  const here = location.hash || "#/tickets";
  const global = PANELS.filter((p) => p.nav?.global).flatMap((p) => {
    const companies = me.memberships.filter((m) => answers.allows(p.nav.permission, m.company_id));
    return companies.length ? [link(p.nav.href(), p.nav.label, here)] : [];
  });
  const everyone = PANELS.filter((p) => p.nav?.always).map((p) => link(p.nav.href(), p.nav.label, here));
  const perCompany = me.memberships.map((m) => {
    const links = PANELS.filter((p) => p.nav && !p.nav.global && !p.nav.always && answers.allows(p.nav.permission, m.company_id))
      .map((p) => link(p.nav.href(m.company_id), p.nav.label, here));
    return h("section", { class: "nav-company", "aria-label": m.company_name },
      h("h2", {}, m.company_name, " ", h("span", { class: "role" }, m.role)),
      h("ul", {}, links));
  });
  replace(nav,
    h("ul", {}, link("#/tickets", "All tickets", here), global),
    me.memberships.length ? perCompany : h("p", { class: "muted" }, "You belong to no company yet."),
    h("ul", { class: "nav-everyone" }, everyone));
}

function renderAccount(me) {
  replace(account,
    h("span", { class: "who" }, h("strong", {}, me.username), h("span", { class: "email" }, me.email)),
    h("button", { type: "button", class: "secondary small", onclick: signOut }, "Sign out"));
}

function signOut() {
  liveUpdates.stop();
  session.end();
  toast("Signed out.");
  show();
}

function errorView(error) {
  const titles = { 403: "Not allowed", 404: "Not found", 0: "No connection" };
  return h("section", { class: "page" },
    h("h1", { tabindex: "-1" }, titles[error.status] ?? "Something went wrong"),
    h("p", { class: "alert", role: "alert", "data-status": error.status }, error.message),
    h("p", {}, h("a", { href: "#/tickets" }, "Back to the tickets")));
}

function placeFocus(options) {
  const target = (options.focus && main.querySelector(options.focus)) || main.querySelector("h1") || main;
  target.focus({ preventScroll: Boolean(options.keepScroll) });
}

/** One page view: data and caller, one authorization call, render. */
async function show(options = {}) {
  const view = ++currentView;
  const stale = () => view !== currentView;
  if (!session.token) {
    replace(nav);
    replace(account);
    replace(main, await signin.render({ onSignedIn, flash: options.flash }));
    if (stale()) return;
    document.title = "Sign in · Ticketing console";
    main.querySelector("input[name=email]")?.focus();
    return;
  }
  liveUpdates.follow(onLiveEvent);
  const { path, query } = route();
  const found = findPanel(path);
  const scroll = window.scrollY;
  if (!options.keepScroll) {
    main.setAttribute("aria-busy", "true");
    replace(main, loading("Loading…"));
  }
  const ctx = { params: found?.params ?? [], query, navigate, toast, refresh };
  const [me, data] = await Promise.allSettled([
    api("GET", "/auth/me"),
    found ? found.panel.load(ctx) : Promise.reject(new ApiError(404, `No page at ${path}`)),
  ]);
  if (stale()) return;
  let content;
  try {
    if (me.status === "rejected") throw me.reason;
    ctx.me = me.value;
    ctx.companies = new Map(me.value.memberships.map((m) => [m.company_id, m]));
    const questions = navQuestions(ctx.me);
    if (data.status === "fulfilled") questions.push(...found.panel.questions(ctx, data.value));
    const answers = await ask(questions);
    if (stale()) return;
    renderAccount(ctx.me);
    renderNav(ctx.me, answers);
    if (data.status === "rejected") throw data.reason;
    content = await found.panel.render(ctx, data.value, answers);
    shown = { panel: found.panel, ctx, data: data.value };
    document.title = `${found.panel.title(ctx, data.value)} · Ticketing console`;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (!session.token) return; // the session ended; whenSessionLost shows the sign-in
    content = errorView(error);
    shown = null;
    document.title = "Ticketing console";
  }
  if (stale()) return;
  main.removeAttribute("aria-busy");
  replace(main, content);
  edited = false;
  if (options.keepScroll) window.scrollTo(0, scroll);
  else window.scrollTo(0, 0);
  if (!options.quiet) placeFocus(options); // a live refresh does not move the reader
}

/** The same page view again after a change, keeping the reader's place. */
function refresh(options = {}) {
  return show({ keepScroll: true, ...options });
}

/** What a live event means to the page on screen: nothing, a refresh (unless the reader is
 * typing: then a notice), or the page's subject gone from the reader's reach. */
function onLiveEvent(event) {
  const outcome = shown?.panel.live?.(shown.ctx, shown.data, event);
  if (!outcome) return;
  if (outcome.gone) {
    shown = null;
    replace(main, h("section", { class: "page" },
      h("h1", { tabindex: "-1" }, "No longer available"),
      h("p", { class: "alert", role: "alert", "data-live": "gone" }, outcome.gone),
      h("p", {}, h("a", { href: "#/tickets" }, "Back to the tickets"))));
    return;
  }
  if (outcome.notice) toast(outcome.notice);
  if (edited) {
    if (!outcome.notice) toast("This page changed while you were typing: reload it to see the change.");
    return;
  }
  clearTimeout(refreshing); // a burst of changes is one refresh
  refreshing = setTimeout(() => refresh({ quiet: true }), 150);
}

function onSignedIn(token) {
  session.start(token);
  show();
}

main.addEventListener("input", () => {
  edited = true;
});
whenSessionLost((detail) => {
  liveUpdates.stop();
  show({ flash: `Signed out: ${detail}. Sign in again.` });
});

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => show());
show();
