// A company's audit log (audit:read): writes and denials with the engine's reason, newest
// first, 50 at a time.

import { ApiError, api, query } from "../api.js";
import { question } from "../authz.js";
import { alertBox, busy, h, replace, say, when } from "../dom.js";
import { People } from "../people.js";

export const pattern = /^\/companies\/([^/]+)\/audit$/;
export const nav = {
  label: "Audit log",
  permission: "audit:read",
  href: (companyId) => `#/companies/${companyId}/audit`,
};
const PAGE = 50;

export function title(ctx) {
  return `Audit log of ${ctx.companies.get(ctx.params[0])?.company_name ?? "a company"}`;
}

function fetchPage(companyId, cursor) {
  return api("GET", `/companies/${encodeURIComponent(companyId)}/audit${query({ limit: PAGE, cursor })}`);
}

export function load(ctx) {
  return fetchPage(ctx.params[0]);
}

export function questions(ctx) {
  return [question("members:list", { companyId: ctx.params[0] })];
}

function resource(event) {
  if (!event.resource_id) return event.resource_type;
  const text = `${event.resource_type} …${event.resource_id.slice(-6)}`;
  return event.resource_type === "ticket" ? h("a", { href: `#/tickets/${event.resource_id}` }, text) : text;
}

function eventRow(event, people) {
  return h("tr", { class: event.allowed ? "allowed" : "denied" },
    h("td", {}, when(event.time)),
    h("td", {}, event.user_id ? people.name(event.user_id) : "—"),
    h("td", {}, h("code", {}, event.action)),
    h("td", { class: "resource" }, resource(event)),
    h("td", {}, h("span", { class: `badge ${event.allowed ? "allowed" : "denied"}` }, event.allowed ? "Allowed" : "Denied")),
    h("td", { class: "reason" }, event.reason));
}

export async function render(ctx, firstPage, answers) {
  const companyId = ctx.params[0];
  const people = await new People(ctx.me).load([companyId], answers);
  const problem = alertBox();
  const body = h("tbody", {});
  const footer = h("div", { class: "list-footer" });
  const more = h("button", { type: "button", class: "secondary load-more" }, "Load more");
  let cursor = null;

  const table = h("div", { class: "table-wrap" },
    h("table", { class: "audit" },
      h("caption", { class: "visually-hidden" }, title(ctx)),
      h("thead", {}, h("tr", {}, ["Time", "Who", "Action", "Resource", "Outcome", "Reason"].map((x) => h("th", { scope: "col" }, x)))),
      body));

  function showPage(page) {
    body.append(...page.items.map((e) => eventRow(e, people)));
    cursor = page.next_cursor;
    table.hidden = body.rows.length === 0;
    replace(footer, cursor ? more : h("p", { class: "list-end" }, body.rows.length ? "End of the log" : "Nothing recorded yet."));
  }
  more.addEventListener("click", () => busy(more, async () => {
    say(problem, "");
    try {
      showPage(await fetchPage(companyId, cursor));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(problem, error.message);
    }
  }));
  showPage(firstPage);
  return h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title(ctx))),
    h("p", { class: "muted" }, "Writes and refusals, with the engine's reason. Events are written in the background: a second or so after the fact."),
    table, problem, footer);
}
