// One ticket: its fields, its conversation, and exactly the actions the engine allows the
// caller on it. The page asks, in its one authorization call, for each action below on
// this ticket; `ticket:update` comes back with the fields the caller may change, and only
// those become inputs.

import { ApiError, api } from "../api.js";
import { question } from "../authz.js";
import { alertBox, attempt, busy, field, h, say, select, when } from "../dom.js";
import { PRIORITIES, STATUSES, label } from "../labels.js";
import { Groups } from "../groups.js";
import { People } from "../people.js";

export const pattern = /^\/tickets\/([^/]+)$/;
const ACTIONS = ["ticket:update", "ticket:delete", "ticket:share", "ticket:note", "ticket:reply"];

export function title(_ctx, ticket) {
  return `#${ticket.number} ${ticket.subject}`;
}

export function load(ctx) {
  return api("GET", `/tickets/${encodeURIComponent(ctx.params[0])}`);
}

export function questions(_ctx, ticket) {
  return [
    ...ACTIONS.map((permission) => question(permission, { resourceId: ticket.id })),
    question("members:list", { companyId: ticket.company_id }), // names for ids, assignees
    question("group:read", { companyId: ticket.company_id }), // the group's name, and the others
  ];
}

/** Live updates: this ticket changed (shown again), or left the reader's reach (a notice
 * replaces it); a change of the reader's rights in its company shows it again too. */
export function live(_ctx, ticket, event) {
  const about = event.data?.ticket?.id ?? event.data?.ticket_id;
  if (event.name === "ticket.removed" && about === ticket.id) {
    return { gone: `Ticket #${ticket.number} was deleted, or is no longer visible to you.` };
  }
  if (event.name === "ticket.updated" && about === ticket.id) return { refresh: true };
  const rights = event.name === "access.changed" && event.data.company_id === ticket.company_id;
  return rights || event.name === "reset" ? { refresh: true } : null;
}

function details(ticket, ctx, people, groups) {
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  // Groups are the staff's routing: shown to those who may read them.
  const inGroup = groups.of(ticket.company_id)
    ? row("Group", ticket.group_id ? groups.name(ticket.group_id) : "No group")
    : null;
  return h("section", { class: "card", "aria-labelledby": "details-title" },
    h("h2", { id: "details-title" }, "Details"),
    h("dl", { class: "details" },
      row("Company", ctx.companies.get(ticket.company_id)?.company_name ?? "—"),
      row("Status", label(STATUSES, ticket.status)),
      row("Priority", label(PRIORITIES, ticket.priority)),
      row("Assignee", ticket.assigned_to ? people.name(ticket.assigned_to) : "Not assigned"),
      inGroup,
      row("Opened by", people.name(ticket.created_by)),
      row("Opened", when(ticket.created_at)),
      row("Last update", when(ticket.updated_at))));
}

function memberOptions(people, ticket, ctx, extra) {
  const members = people.members(ticket.company_id);
  const options = members
    ? members.map((m) => [m.user_id, `${m.username} (${m.role})`])
    : [[ctx.me.id, `${ctx.me.username} (you)`]];
  if (extra && !options.some(([id]) => id === extra)) options.push([extra, people.name(extra)]);
  return options;
}

/** "No group" and the company's groups (or only the ticket's own, if they cannot be listed). */
function groupOptions(groups, ticket) {
  const listed = groups.of(ticket.company_id) ?? [];
  const options = [["", "No group"], ...listed.map((g) => [g.id, g.name])];
  if (ticket.group_id && !options.some(([id]) => id === ticket.group_id)) {
    options.push([ticket.group_id, groups.name(ticket.group_id)]);
  }
  return options;
}

/** Whether the caller may still read the ticket: an agent whose access is limited to their
 * groups (or their assignments) loses a ticket they move out of their reach. */
async function stillReadable(ticket) {
  try {
    await api("GET", `/tickets/${ticket.id}`);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return false;
    throw error;
  }
}

function editForm(ticket, answers, ctx, people, groups) {
  const writable = answers.fields("ticket:update", ticket.id);
  const choices = (name, list) => answers.choices("ticket:update", ticket.id, name, list);
  const problem = alertBox();
  const controls = {};
  const fields = [];
  if (writable.has("subject")) {
    controls.subject = h("input", { name: "subject", value: ticket.subject, maxlength: "200", required: true });
    fields.push(field("Subject", controls.subject));
  }
  if (writable.has("description")) {
    controls.description = h("textarea", { name: "description", rows: "5", maxlength: "10000", value: ticket.description });
    fields.push(field("Description", controls.description));
  }
  if (writable.has("status")) {
    controls.status = select({ name: "status" }, choices("status", STATUSES), ticket.status);
    fields.push(field("Status", controls.status));
  }
  if (writable.has("priority")) {
    // The engine names the priorities this caller may set (only admins set "urgent"); the
    // ticket's own stays shown.
    const offered = choices("priority", PRIORITIES);
    if (!offered.some(([v]) => v === ticket.priority)) offered.push(PRIORITIES.find(([v]) => v === ticket.priority));
    controls.priority = select({ name: "priority" }, offered, ticket.priority);
    fields.push(field("Priority", controls.priority));
  }
  if (writable.has("assigned_to")) {
    const options = memberOptions(people, ticket, ctx, ticket.assigned_to);
    if (!ticket.assigned_to) options.unshift(["", "Not assigned", { disabled: true }]);
    controls.assigned_to = select({ name: "assigned_to" }, options, ticket.assigned_to ?? "");
    fields.push(field("Assignee", controls.assigned_to));
  }
  if (writable.has("group_id")) {
    controls.group_id = select({ name: "group_id" }, groupOptions(groups, ticket), ticket.group_id ?? "");
    fields.push(field("Group", controls.group_id, "Agents whose ticket access is “Their groups” see the tickets of their groups."));
  }
  if (writable.has("confidential")) {
    controls.confidential = h("input", { type: "checkbox", name: "confidential" });
    controls.confidential.checked = ticket.confidential;
    fields.push(h("label", { class: "check" }, controls.confidential,
      " Confidential: read only by admins, its assignee, its creator and those it is shared with"));
  }
  if (ticket.status === "resolved" && writable.size === 1 && writable.has("status")) {
    fields.push(h("p", { class: "muted" }, "This ticket is resolved: reopen it to change anything else."));
  }
  const save = h("button", { type: "submit", "data-action": "ticket:update" }, "Save changes");
  const form = h("form", { class: "card edit", "aria-labelledby": "edit-title", novalidate: true },
    h("h2", { id: "edit-title" }, "Update"), fields, problem, save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = {};
    for (const [name, control] of Object.entries(controls)) {
      if (name === "confidential") {
        if (control.checked !== ticket.confidential) changes.confidential = control.checked;
        continue;
      }
      const before = ticket[name] ?? "";
      const after = name === "subject" || name === "description" ? control.value.trim() : control.value;
      if (after === before || (name === "assigned_to" && after === "")) continue;
      changes[name] = name === "group_id" && after === "" ? null : after; // null: out of any group
    }
    if (Object.keys(changes).length === 0) {
      say(problem, "Nothing to save: change a field first.");
      return;
    }
    busy(save, () => attempt(problem, async () => {
      await api("PATCH", `/tickets/${ticket.id}`, changes);
      if (("group_id" in changes || "assigned_to" in changes || "confidential" in changes) && !(await stillReadable(ticket))) {
        ctx.toast(`Ticket #${ticket.number} saved. It is now outside your ticket access.`);
        ctx.navigate("#/tickets");
        return;
      }
      ctx.toast(`Ticket #${ticket.number} saved.`);
      await ctx.refresh({ focus: '[data-action="ticket:update"]' });
    }));
  });
  return form;
}

function conversation(ticket, people) {
  const replies = ticket.replies.map((reply) =>
    h("li", { class: reply.internal ? "reply internal" : "reply", "data-reply-id": reply.id },
      h("p", { class: "reply-head" },
        h("strong", {}, people.name(reply.author)), " · ", when(reply.created_at),
        reply.internal ? h("span", { class: "badge internal-badge" }, "Internal note") : null),
      h("p", { class: "reply-body" }, reply.body)));
  return h("section", { class: "conversation", "aria-labelledby": "conversation-title" },
    h("h2", { id: "conversation-title" }, "Conversation"),
    replies.length
      ? h("ol", { class: "replies" }, replies)
      : h("p", { class: "muted empty" }, "No replies yet."));
}

function composer(ticket, answers, ctx) {
  const mayReply = answers.allows("ticket:reply", ticket.id);
  const mayNote = answers.allows("ticket:note", ticket.id);
  if (!mayReply && !mayNote) return null;
  const problem = alertBox();
  const body = h("textarea", { name: "body", rows: "4", maxlength: "10000" });
  const buttons = [];
  if (mayReply) buttons.push(h("button", { type: "submit", "data-action": "ticket:reply" }, "Send reply"));
  if (mayNote) {
    buttons.push(h("button", { type: "submit", class: "secondary note", "data-action": "ticket:note" }, "Add internal note"));
  }
  const form = h("form", { class: "card composer", "aria-labelledby": "composer-title", novalidate: true },
    h("h2", { id: "composer-title" }, mayReply ? "Reply" : "Internal note"),
    field("Message", body, mayNote ? "An internal note is seen only by those allowed to read notes." : null),
    problem,
    h("div", { class: "buttons" }, buttons));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.submitter ?? buttons[0];
    const internal = button.dataset.action === "ticket:note";
    const text = body.value.trim();
    if (!text) {
      say(problem, "Write a message first.");
      body.focus();
      return;
    }
    busy(button, () => attempt(problem, async () => {
      await api("POST", `/tickets/${ticket.id}/replies`, { body: text, internal });
      ctx.toast(internal ? "Internal note added." : "Reply sent.");
      await ctx.refresh({ focus: "textarea[name=body]" });
    }));
  });
  return form;
}

function sharing(ticket, ctx, people) {
  const problem = alertBox();
  const members = people.members(ticket.company_id);
  const who = members
    ? select({ name: "viewer" }, members.filter((m) => m.user_id !== ctx.me.id)
      .map((m) => [m.user_id, `${m.username} (${m.role})`]))
    : h("input", { name: "viewer", maxlength: "24", autocomplete: "off", placeholder: "user id" });
  const share = h("button", { type: "button", "data-action": "ticket:share" }, "Share");
  const unshare = h("button", { type: "button", class: "secondary", "data-action": "ticket:share", "data-variant": "unshare" }, "Stop sharing");
  share.addEventListener("click", () => busy(share, () => attempt(problem, async () => {
    await api("POST", `/tickets/${ticket.id}/viewers`, { user_id: who.value });
    ctx.toast(`Shared with ${people.name(who.value)}.`);
  })));
  unshare.addEventListener("click", () => busy(unshare, () => attempt(problem, async () => {
    await api("DELETE", `/tickets/${ticket.id}/viewers/${encodeURIComponent(who.value)}`);
    ctx.toast(`No longer shared with ${people.name(who.value)}.`);
  })));
  return h("section", { class: "card sharing", "aria-labelledby": "sharing-title" },
    h("h2", { id: "sharing-title" }, "Sharing"),
    h("p", { class: "muted" }, "A member you share this ticket with can read it and reply publicly; internal notes stay hidden from them."),
    field("Member", who),
    problem,
    h("div", { class: "buttons" }, share, unshare));
}

function deletion(ticket, ctx) {
  const problem = alertBox();
  const confirm = h("div", { class: "confirm", hidden: true, role: "group", "aria-label": "Confirm deletion" });
  const start = h("button", { type: "button", class: "danger secondary", "data-action": "ticket:delete", "aria-expanded": "false" }, "Delete ticket");
  const yes = h("button", { type: "button", class: "danger" }, "Delete for good");
  const no = h("button", { type: "button", class: "secondary" }, "Cancel");
  confirm.append(h("p", {}, `Delete ticket #${ticket.number} and its conversation? This cannot be undone.`), yes, no);
  start.addEventListener("click", () => {
    confirm.hidden = false;
    start.setAttribute("aria-expanded", "true");
    no.focus();
  });
  no.addEventListener("click", () => {
    confirm.hidden = true;
    start.setAttribute("aria-expanded", "false");
    start.focus();
  });
  yes.addEventListener("click", () => busy(yes, () => attempt(problem, async () => {
    await api("DELETE", `/tickets/${ticket.id}`);
    ctx.toast(`Ticket #${ticket.number} deleted.`);
    ctx.navigate("#/tickets");
  })));
  return h("div", { class: "deletion" }, start, confirm, problem);
}

export async function render(ctx, ticket, answers) {
  const [people, groups] = await Promise.all([
    new People(ctx.me).load([ticket.company_id], answers),
    new Groups().load([ticket.company_id], answers),
  ]);
  const company = ctx.companies.get(ticket.company_id)?.company_name ?? "";
  const side = [];
  if (answers.allows("ticket:update", ticket.id)) {
    side.push(editForm(ticket, answers, ctx, people, groups));
  }
  if (answers.allows("ticket:share", ticket.id)) side.push(sharing(ticket, ctx, people));
  return h("article", { class: "page ticket", "data-ticket": ticket.id },
    h("p", { class: "crumbs" }, h("a", { href: "#/tickets" }, "← Tickets"), ` · ${company} · #${ticket.number}`),
    h("div", { class: "page-head" },
      h("h1", { tabindex: "-1" }, ticket.subject),
      answers.allows("ticket:delete", ticket.id) ? deletion(ticket, ctx) : null),
    h("p", { class: "ticket-badges" },
      h("span", { class: `badge status-${ticket.status}` }, label(STATUSES, ticket.status)),
      h("span", { class: `badge priority-${ticket.priority}` }, `${label(PRIORITIES, ticket.priority)} priority`),
      ticket.confidential ? h("span", { class: "badge confidential", "data-confidential": "true" }, "Confidential") : null),
    h("div", { class: "ticket-grid" },
      h("div", { class: "ticket-main" },
        h("section", { class: "card description", "aria-label": "Description" }, h("p", {}, ticket.description)),
        conversation(ticket, people),
        composer(ticket, answers, ctx)),
      h("aside", { class: "ticket-side", "aria-label": "Ticket details and actions" },
        details(ticket, ctx, people, groups), side)));
}
