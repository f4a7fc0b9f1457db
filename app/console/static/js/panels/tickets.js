// The ticket list: across the caller's companies or in one, filtered by status, assignee
// and text, 25 at a time ("Load more" follows next_cursor and appends below, so nothing
// already on screen moves).

import { ApiError, api, query } from "../api.js";
import { alertBox, busy, field, h, replace, say, select, when } from "../dom.js";
import { PRIORITIES, STATUSES, label } from "../labels.js";
import { Groups } from "../groups.js";
import { People } from "../people.js";

export const pattern = /^\/tickets$/;
export const nav = {
  label: "Tickets",
  permission: "company:read",
  href: (companyId) => `#/tickets?company=${companyId}`,
};
const PAGE = 25;

function filtersOf(query) {
  return {
    company_id: query.get("company") ?? "",
    status: query.get("status") ?? "",
    assigned_to: query.get("assignee") ?? "",
    q: query.get("q") ?? "",
  };
}

export function title(ctx) {
  const company = ctx.companies.get(ctx.query.get("company") ?? "");
  return company ? `Tickets in ${company.company_name}` : "Tickets";
}

function fetchPage(filters, cursor) {
  return api("GET", `/tickets${query({ ...filters, limit: PAGE, cursor })}`);
}

export function load(ctx) {
  return fetchPage(filtersOf(ctx.query));
}

export function questions() {
  return []; // the navigation's (members:list, group:read, ticket:create per company) suffice
}

/** Live updates: the list is loaded again on any change of a ticket the reader may see (or
 * of their rights); one that left their reach is named as it disappears. */
export function live(_ctx, page, event) {
  if (event.name === "ticket.removed") {
    const gone = page.items.find((t) => t.id === event.data.ticket_id);
    return { refresh: true, notice: gone ? `Ticket #${gone.number} is no longer visible to you.` : null };
  }
  const relevant = event.name.startsWith("ticket.") || event.name === "access.changed" || event.name === "reset";
  return relevant ? { refresh: true } : null;
}

function badge(kind, value, list) {
  return h("span", { class: `badge ${kind}-${value}` }, label(list, value));
}

function row(ticket, ctx, people, groups) {
  const company = ctx.companies.get(ticket.company_id)?.company_name ?? "another company";
  const assignee = ticket.assigned_to ? `assigned to ${people.name(ticket.assigned_to)}` : "unassigned";
  const group = ticket.group_id && groups.of(ticket.company_id) ? ` · in ${groups.name(ticket.group_id)}` : "";
  return h("li", { class: "ticket-row", "data-ticket-id": ticket.id },
    h("a", { href: `#/tickets/${ticket.id}` },
      h("span", { class: "ticket-number" }, `#${ticket.number}`),
      h("span", { class: "ticket-subject" }, ticket.subject),
      h("span", { class: "ticket-meta" }, `${company}${group} · ${assignee} · updated `, when(ticket.updated_at)),
      h("span", { class: "ticket-badges" },
        badge("status", ticket.status, STATUSES),
        badge("priority", ticket.priority, PRIORITIES),
        ticket.confidential ? h("span", { class: "badge confidential" }, "Confidential") : null)));
}

export async function render(ctx, firstPage, answers) {
  const filters = filtersOf(ctx.query);
  const memberships = ctx.me.memberships;
  const companyIds = memberships.map((m) => m.company_id);
  const [people, groups] = await Promise.all([
    new People(ctx.me).load(companyIds, answers),
    new Groups().load(companyIds, answers),
  ]);
  const problem = alertBox();
  const list = h("ul", { class: "ticket-list", "aria-label": "Tickets" });
  const status = h("p", { class: "list-status", role: "status" });
  const footer = h("div", { class: "list-footer" });
  let cursor = null;
  let shown = 0;
  let generation = 0;

  function showPage(page, { append }) {
    if (!append) {
      replace(list);
      shown = 0;
    }
    const rows = page.items.map((t) => row(t, ctx, people, groups));
    list.append(...rows);
    shown += rows.length;
    cursor = page.next_cursor;
    list.hidden = shown === 0;
    replace(status, shown === 0 ? emptyState(filters, ctx) : `${shown} ticket${shown === 1 ? "" : "s"} shown`);
    replace(footer, cursor ? moreButton : h("p", { class: "list-end" }, shown ? "End of the list" : ""));
    return rows;
  }

  const moreButton = h("button", { type: "button", class: "secondary load-more", "aria-controls": "ticket-list" }, "Load more");
  list.id = "ticket-list";
  moreButton.addEventListener("click", () => busy(moreButton, async () => {
    const mine = generation;
    moreButton.textContent = "Loading…";
    try {
      const page = await fetchPage(filters, cursor);
      if (mine !== generation) return;
      const rows = showPage(page, { append: true });
      rows[0]?.querySelector("a").focus({ preventScroll: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(problem, error.message);
    } finally {
      moreButton.textContent = "Load more";
    }
  }));

  const heading = h("h1", { tabindex: "-1" }, title(ctx));

  async function reload() {
    const mine = ++generation;
    const company = ctx.companies.get(filters.company_id);
    heading.textContent = company ? `Tickets in ${company.company_name}` : "Tickets";
    history.replaceState(null, "", `#/tickets${query({
      company: filters.company_id, status: filters.status, assignee: filters.assigned_to, q: filters.q,
    })}`);
    list.setAttribute("aria-busy", "true");
    say(problem, "");
    try {
      const page = await fetchPage(filters);
      if (mine === generation) showPage(page, { append: false });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (mine === generation) say(problem, error.message);
    } finally {
      if (mine === generation) list.removeAttribute("aria-busy");
    }
  }

  const companySelect = select({ name: "company" },
    [["", "All companies"], ...memberships.map((m) => [m.company_id, m.company_name])], filters.company_id);
  const statusSelect = select({ name: "status" }, [["", "Any status"], ...STATUSES], filters.status);
  const assigneeSelect = h("select", { name: "assignee" });
  const search = h("input", { type: "search", name: "q", value: filters.q, maxlength: "100", autocomplete: "off", placeholder: "e.g. invoice" });

  // `keep`: an assignee named by the address but in no list the caller may read stays
  // selected (shown by its short id); after a company change, it falls back to "Anyone".
  function fillAssignees({ keep = false } = {}) {
    const companies = filters.company_id ? [filters.company_id] : memberships.map((m) => m.company_id);
    const groups = companies
      .map((c) => [c, people.members(c)])
      .filter(([, members]) => members)
      .map(([c, members]) => h("optgroup", { label: ctx.companies.get(c).company_name },
        members.filter((m) => m.user_id !== ctx.me.id).map((m) =>
          h("option", { value: m.user_id, selected: m.user_id === filters.assigned_to }, `${m.username} (${m.role})`))));
    replace(assigneeSelect,
      h("option", { value: "", selected: !filters.assigned_to }, "Anyone"),
      h("option", { value: ctx.me.id, selected: filters.assigned_to === ctx.me.id }, "Me"),
      groups);
    const listed = [...assigneeSelect.options].some((o) => o.value === filters.assigned_to);
    if (!listed && keep) {
      assigneeSelect.append(h("option", { value: filters.assigned_to, selected: true }, people.name(filters.assigned_to)));
    } else if (!listed) {
      assigneeSelect.value = "";
    }
    filters.assigned_to = assigneeSelect.value;
  }
  fillAssignees({ keep: true });

  companySelect.addEventListener("change", () => {
    filters.company_id = companySelect.value;
    fillAssignees();
    reload();
  });
  statusSelect.addEventListener("change", () => { filters.status = statusSelect.value; reload(); });
  assigneeSelect.addEventListener("change", () => { filters.assigned_to = assigneeSelect.value; reload(); });
  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { filters.q = search.value.trim(); reload(); }, 300);
  });

  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter tickets" },
    memberships.length > 1 ? field("Company", companySelect) : null,
    field("Status", statusSelect),
    field("Assignee", assigneeSelect),
    field("Search", search));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(typing);
    filters.q = search.value.trim();
    reload();
  });

  const canCreate = memberships.some((m) => answers.allows("ticket:create", m.company_id));
  showPage(firstPage, { append: false });
  return h("section", { class: "page" },
    h("div", { class: "page-head" },
      heading,
      canCreate ? h("a", { class: "button", href: "#/new", "data-action": "ticket:create" }, "New ticket") : null),
    form, problem, status, list, footer);
}

function emptyState(filters, ctx) {
  const filtered = filters.status || filters.assigned_to || filters.q || filters.company_id;
  if (filtered) return h("span", { class: "empty" }, "No ticket matches these filters.");
  if (ctx.me.memberships.length === 0) {
    return h("span", { class: "empty" }, "You belong to no company yet. Were you invited? ",
      h("a", { href: "#/invitations/accept" }, "Accept an invitation"), ".");
  }
  return h("span", { class: "empty" }, "No tickets yet. Tickets you open, or that are shared with you, appear here.");
}
