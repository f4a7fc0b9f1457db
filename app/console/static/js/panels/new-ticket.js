// Open a ticket, in any company where the engine allows ticket:create (asked for every
// company). What the form offers beyond subject, description and priority comes with that
// answer: the fields the caller may set (a group, if they may also read the groups;
// "confidential", for admins), and the priorities they may choose.

import { ApiError, api } from "../api.js";
import { question } from "../authz.js";
import { alertBox, busy, field, h, replace, say, select } from "../dom.js";
import { Groups } from "../groups.js";
import { PRIORITIES } from "../labels.js";

export const pattern = /^\/new$/;
export const nav = { label: "New ticket", permission: "ticket:create", global: true, href: () => "#/new" };

export function title() {
  return "New ticket";
}

export async function load() {
  return null;
}

export function questions(ctx) {
  return ctx.me.memberships.flatMap((m) => [
    question("ticket:create", { companyId: m.company_id }),
    question("group:read", { companyId: m.company_id }),
  ]);
}

export async function render(ctx, _data, answers) {
  const companies = ctx.me.memberships.filter((m) => answers.allows("ticket:create", m.company_id));
  if (companies.length === 0) {
    return h("section", { class: "page" },
      h("h1", { tabindex: "-1" }, "New ticket"),
      h("p", { class: "empty" }, "You may not open tickets in any company."));
  }
  const problem = alertBox();
  const preferred = ctx.query.get("company");
  const company = select({ name: "company_id" },
    companies.map((m) => [m.company_id, m.company_name]),
    companies.some((m) => m.company_id === preferred) ? preferred : companies[0].company_id);
  const subject = h("input", { name: "subject", maxlength: "200", autocomplete: "off" });
  const description = h("textarea", { name: "description", rows: "6", maxlength: "10000" });
  const priority = h("select", { name: "priority" });
  const confidential = h("input", { type: "checkbox", name: "confidential" });
  const confidentialField = h("label", { class: "check" }, confidential,
    " Confidential: read only by admins, its assignee, its creator and those it is shared with");
  const groups = await new Groups().load(companies.map((m) => m.company_id), answers);
  const group = h("select", { name: "group_id" });
  const groupField = field("Group", group, "Agents whose ticket access is “Their groups” see the tickets of their groups.");
  // The group field follows the chosen company: shown where its groups may be chosen.
  function offerFields() {
    const settable = answers.fields("ticket:create", company.value);
    const choosable = settable.has("group_id") && groups.of(company.value);
    groupField.hidden = !choosable;
    replace(group, h("option", { value: "" }, "No group"),
      (choosable || []).map((g) => h("option", { value: g.id }, g.name)));
    confidentialField.hidden = !settable.has("confidential");
    if (confidentialField.hidden) confidential.checked = false;
    replace(priority, answers.choices("ticket:create", company.value, "priority", PRIORITIES)
      .map(([value, text]) => h("option", { value, selected: value === "normal" }, text)));
  }
  company.addEventListener("change", offerFields);
  offerFields();
  const submit = h("button", { type: "submit", "data-action": "ticket:create" }, "Open ticket");
  const form = h("form", { class: "card new-ticket", "aria-labelledby": "new-title", novalidate: true },
    companies.length > 1 ? field("Company", company) : h("p", {}, "In ", h("strong", {}, companies[0].company_name)),
    field("Subject", subject, "One line a colleague will recognise in a list."),
    field("Description", description),
    field("Priority", priority),
    groupField,
    confidentialField,
    problem,
    submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      say(problem, "");
      try {
        const ticket = await api("POST", "/tickets", {
          company_id: company.value,
          subject: subject.value.trim(),
          description: description.value.trim(),
          priority: priority.value,
          ...(group.value ? { group_id: group.value } : {}),
          ...(confidential.checked ? { confidential: true } : {}),
        });
        ctx.toast(`Ticket #${ticket.number} opened.`);
        ctx.navigate(`#/tickets/${ticket.id}`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say(problem, error.message);
      }
    });
  });
  return h("section", { class: "page narrow" },
    h("p", { class: "crumbs" }, h("a", { href: "#/tickets" }, "← Tickets")),
    h("h1", { id: "new-title", tabindex: "-1" }, "New ticket"),
    form);
}
