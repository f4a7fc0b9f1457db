// A company's members: listed for those with members:list; added, re-roled, given a ticket
// access level and removed for those the engine allows. The server's refusals (the last
// admin, an unknown email, an access level the member's role may not have) are shown as it
// words them: which levels a role allows is the policy's, so the page offers them all.

import { api } from "../api.js";
import { question } from "../authz.js";
import { alertBox, attempt, busy, field, h, say, select } from "../dom.js";
import { ACCESS_LEVELS, ROLES, label } from "../labels.js";

export const pattern = /^\/companies\/([^/]+)\/members$/;
export const nav = {
  label: "Members",
  permission: "members:list",
  href: (companyId) => `#/companies/${companyId}/members`,
};

export function title(ctx) {
  return `Members of ${ctx.companies.get(ctx.params[0])?.company_name ?? "a company"}`;
}

export function load(ctx) {
  return api("GET", `/companies/${encodeURIComponent(ctx.params[0])}/members`);
}

export function questions(ctx) {
  const companyId = ctx.params[0];
  return ["members:add", "members:update", "members:remove"].map((p) => question(p, { companyId }));
}

function memberRow(member, companyId, answers, ctx) {
  const problem = alertBox();
  const cells = [
    h("td", {}, h("strong", {}, member.username), member.user_id === ctx.me.id ? " (you)" : ""),
    h("td", { class: "email" }, member.email),
  ];
  if (answers.allows("members:update", companyId)) {
    const role = select({ name: "role", "aria-label": `Role of ${member.username}` }, ROLES, member.role);
    const access = select({ name: "ticket_access", "aria-label": `Ticket access of ${member.username}` },
      ACCESS_LEVELS, member.ticket_access);
    const save = h("button", {
      type: "button", class: "secondary small", "data-action": "members:update",
      "aria-label": `Save the role and ticket access of ${member.username}`,
    }, "Save");
    save.addEventListener("click", () => busy(save, () => attempt(problem, async () => {
      const changes = {};
      if (role.value !== member.role) changes.role = role.value;
      if (access.value !== member.ticket_access) changes.ticket_access = access.value;
      if (Object.keys(changes).length === 0) {
        say(problem, `Nothing to save: choose another role or ticket access for ${member.username} first.`);
        return;
      }
      let saved;
      try {
        saved = await api("PATCH", `/companies/${companyId}/members/${member.user_id}`, changes);
      } catch (error) {
        role.value = member.role; // refused: show what the member still has
        access.value = member.ticket_access;
        throw error;
      }
      ctx.toast(`${saved.username} is now ${saved.role}, with ticket access “${label(ACCESS_LEVELS, saved.ticket_access)}”.`);
      await ctx.refresh();
    })));
    cells.push(h("td", {}, role), h("td", {}, access), h("td", {}, save));
  } else {
    cells.push(
      h("td", {}, h("span", { class: `badge role-${member.role}` }, member.role)),
      h("td", { class: "access" }, label(ACCESS_LEVELS, member.ticket_access)));
  }
  if (answers.allows("members:remove", companyId)) {
    const remove = h("button", { type: "button", class: "danger secondary small", "data-action": "members:remove" }, "Remove");
    const sure = h("button", { type: "button", class: "danger small", hidden: true }, `Remove ${member.username}`);
    remove.addEventListener("click", () => {
      sure.hidden = false;
      remove.hidden = true;
      sure.focus();
    });
    sure.addEventListener("click", () => busy(sure, () => attempt(problem, async () => {
      try {
        await api("DELETE", `/companies/${companyId}/members/${member.user_id}`);
      } finally {
        sure.hidden = true;
        remove.hidden = false;
      }
      ctx.toast(`${member.username} removed.`);
      await ctx.refresh();
    })));
    cells.push(h("td", {}, remove, sure));
  }
  return [
    h("tr", { "data-member-id": member.user_id }, cells),
    h("tr", { class: "row-problem" }, h("td", { colspan: String(cells.length) }, problem)),
  ];
}

function addForm(companyId, ctx) {
  const problem = alertBox();
  const email = h("input", { name: "email", type: "email", autocomplete: "off", maxlength: "254" });
  const role = select({ name: "role" }, ROLES, "customer");
  const submit = h("button", { type: "submit", "data-action": "members:add" }, "Add member");
  const form = h("form", { class: "card add-member", "aria-labelledby": "add-title", novalidate: true },
    h("h2", { id: "add-title" }, "Add a member"),
    h("p", { class: "muted" }, "The person needs an account already (POST /auth/register)."),
    h("div", { class: "row" }, field("Email", email), field("Role", role), submit),
    problem);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => attempt(problem, async () => {
      const added = await api("POST", `/companies/${companyId}/members`, { email: email.value.trim(), role: role.value });
      ctx.toast(`${added.username} added as ${added.role}.`);
      await ctx.refresh({ focus: "input[name=email]" });
    }));
  });
  return form;
}

export function render(ctx, members, answers) {
  const companyId = ctx.params[0];
  const headers = ["Member", "Email", "Role", "Ticket access"];
  if (answers.allows("members:update", companyId)) headers.push(h("span", { class: "visually-hidden" }, "Save"));
  if (answers.allows("members:remove", companyId)) headers.push(h("span", { class: "visually-hidden" }, "Remove"));
  return h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title(ctx))),
    answers.allows("members:add", companyId) ? addForm(companyId, ctx) : null,
    h("div", { class: "table-wrap" },
      h("table", { class: "members" },
        h("caption", { class: "visually-hidden" }, title(ctx)),
        h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, members.map((m) => memberRow(m, companyId, answers, ctx))))),
    h("p", { class: "muted" }, "Ticket access reaches ",
      h("strong", {}, "all tickets"), " of the company, the tickets of ",
      h("strong", {}, "their groups"), " and those assigned to them, or only the tickets ",
      h("strong", {}, "assigned"), " to them. Which levels a role may have is the policy's: the server says so when one is refused."));
}
