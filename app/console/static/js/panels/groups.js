// A company's helpdesk groups and who is in them: read by those with group:read (agents
// too), created, renamed, deleted and staffed by those with group:manage. Who may be in a
// group is the server's rule: every member is offered, and a refusal (a customer: 422; a
// group that still holds tickets: 409) is shown in the server's words.

import { api } from "../api.js";
import { question } from "../authz.js";
import { alertBox, attempt, busy, field, h, say, select } from "../dom.js";
import { ACCESS_LEVELS, label } from "../labels.js";
import { People } from "../people.js";

export const pattern = /^\/companies\/([^/]+)\/groups$/;
export const nav = {
  label: "Groups",
  permission: "group:read",
  href: (companyId) => `#/companies/${companyId}/groups`,
};

export function title(ctx) {
  return `Groups of ${ctx.companies.get(ctx.params[0])?.company_name ?? "a company"}`;
}

export function load(ctx) {
  return api("GET", `/companies/${encodeURIComponent(ctx.params[0])}/groups`);
}

export function questions(ctx) {
  const companyId = ctx.params[0];
  return ["group:manage", "members:list"].map((p) => question(p, { companyId }));
}

function groupPath(companyId, group) {
  return `/companies/${companyId}/groups/${group.id}`;
}

function createForm(companyId, ctx) {
  const problem = alertBox();
  const name = h("input", { name: "name", maxlength: "120", autocomplete: "off", placeholder: "e.g. Billing" });
  const submit = h("button", { type: "submit", "data-action": "group:manage", "data-variant": "create" }, "Create group");
  const form = h("form", { class: "card add-group", "aria-labelledby": "new-group-title", novalidate: true },
    h("h2", { id: "new-group-title" }, "New group"),
    h("div", { class: "row" }, field("Name", name), submit),
    problem);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => attempt(problem, async () => {
      const group = await api("POST", `/companies/${companyId}/groups`, { name: name.value.trim() });
      ctx.toast(`Group ${group.name} created.`);
      await ctx.refresh({ focus: `[data-group-id="${group.id}"] h2` });
    }));
  });
  return form;
}

/** The group's heading, and for managers: rename in place, and delete after a confirmation. */
function head(group, companyId, ctx, problem, manage) {
  const heading = h("h2", { id: `group-${group.id}`, tabindex: "-1" }, group.name);
  if (!manage) return h("div", { class: "group-head" }, heading);

  const name = h("input", { name: "name", value: group.name, maxlength: "120", autocomplete: "off", "aria-label": `New name of ${group.name}` });
  const save = h("button", { type: "submit", class: "small" }, "Save name");
  const cancel = h("button", { type: "button", class: "secondary small" }, "Cancel");
  const renaming = h("form", { class: "inline rename", hidden: true, novalidate: true }, name, save, cancel);
  const rename = h("button", { type: "button", class: "secondary small", "data-action": "group:manage", "data-variant": "rename", "aria-expanded": "false" }, "Rename");
  rename.addEventListener("click", () => {
    renaming.hidden = false;
    rename.setAttribute("aria-expanded", "true");
    name.select();
  });
  cancel.addEventListener("click", () => {
    renaming.hidden = true;
    name.value = group.name;
    rename.setAttribute("aria-expanded", "false");
    rename.focus();
  });
  renaming.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = name.value.trim();
    if (wanted === group.name) {
      say(problem, "Nothing to save: type another name first.");
      return;
    }
    busy(save, () => attempt(problem, async () => {
      await api("PATCH", groupPath(companyId, group), { name: wanted });
      ctx.toast(`${group.name} is now ${wanted}.`);
      await ctx.refresh({ focus: `[data-group-id="${group.id}"] h2` });
    }));
  });

  const remove = h("button", { type: "button", class: "danger secondary small", "data-action": "group:manage", "data-variant": "delete", "aria-expanded": "false" }, "Delete");
  const yes = h("button", { type: "button", class: "danger small" }, "Delete for good");
  const no = h("button", { type: "button", class: "secondary small" }, "Cancel");
  const confirm = h("div", { class: "confirm", hidden: true, role: "group", "aria-label": `Confirm deleting ${group.name}` },
    h("p", {}, `Delete the group ${group.name}? Its members leave it; a group that still holds tickets cannot be deleted.`), yes, no);
  remove.addEventListener("click", () => {
    confirm.hidden = false;
    remove.setAttribute("aria-expanded", "true");
    no.focus();
  });
  no.addEventListener("click", () => {
    confirm.hidden = true;
    remove.setAttribute("aria-expanded", "false");
    remove.focus();
  });
  yes.addEventListener("click", () => busy(yes, () => attempt(problem, async () => {
    try {
      await api("DELETE", groupPath(companyId, group));
    } finally {
      confirm.hidden = true;
      remove.setAttribute("aria-expanded", "false");
    }
    ctx.toast(`Group ${group.name} deleted.`);
    await ctx.refresh();
  })));

  return h("div", { class: "group-head" }, heading,
    h("div", { class: "buttons" }, rename, remove), renaming, confirm);
}

function memberList(group, companyId, ctx, people, problem, manage) {
  if (group.member_ids.length === 0) return h("p", { class: "muted empty" }, "No one in this group yet.");
  return h("ul", { class: "group-members", "aria-label": `Members of ${group.name}` }, group.member_ids.map((userId) => {
    const member = people.member(userId);
    const item = h("li", { "data-member-id": userId },
      h("span", { class: "group-member" }, h("strong", {}, people.name(userId)),
        member ? h("span", { class: "muted" }, ` ${member.role} · ticket access: ${label(ACCESS_LEVELS, member.ticket_access).toLowerCase()}`) : null));
    if (manage) {
      const out = h("button", { type: "button", class: "secondary small", "data-action": "group:manage", "data-variant": "take-out" }, "Take out");
      out.setAttribute("aria-label", `Take ${people.name(userId)} out of ${group.name}`);
      out.addEventListener("click", () => busy(out, () => attempt(problem, async () => {
        await api("DELETE", `${groupPath(companyId, group)}/members/${userId}`);
        ctx.toast(`${people.name(userId)} is no longer in ${group.name}.`);
        await ctx.refresh({ focus: `[data-group-id="${group.id}"] h2` });
      })));
      item.append(out);
    }
    return item;
  }));
}

function addMember(group, companyId, ctx, people, problem) {
  const members = people.members(companyId) ?? [];
  const candidates = members.filter((m) => !group.member_ids.includes(m.user_id));
  if (candidates.length === 0) return null;
  const who = select({ name: "member", "aria-label": `Member to put in ${group.name}` },
    candidates.map((m) => [m.user_id, `${m.username} (${m.role})`]));
  const put = h("button", { type: "button", class: "small", "data-action": "group:manage", "data-variant": "put-in" }, "Put in group");
  put.addEventListener("click", () => busy(put, () => attempt(problem, async () => {
    await api("PUT", `${groupPath(companyId, group)}/members/${who.value}`);
    ctx.toast(`${people.name(who.value)} is now in ${group.name}.`);
    await ctx.refresh({ focus: `[data-group-id="${group.id}"] h2` });
  })));
  return h("div", { class: "inline add-to-group" }, who, put);
}

function groupCard(group, companyId, ctx, people, manage) {
  const problem = alertBox();
  return h("section", { class: "card group", "data-group-id": group.id, "aria-labelledby": `group-${group.id}` },
    head(group, companyId, ctx, problem, manage),
    memberList(group, companyId, ctx, people, problem, manage),
    manage ? addMember(group, companyId, ctx, people, problem) : null,
    problem);
}

export async function render(ctx, groups, answers) {
  const companyId = ctx.params[0];
  const manage = answers.allows("group:manage", companyId);
  const people = await new People(ctx.me).load([companyId], answers);
  return h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title(ctx))),
    h("p", { class: "muted" },
      "An agent whose ticket access is “Their groups” sees the tickets of the groups they are in, and those assigned to them. ",
      "A ticket's group is set on the ticket; ticket access on the ",
      answers.allows("members:list", companyId) ? h("a", { href: `#/companies/${companyId}/members` }, "members") : "members",
      " page."),
    manage ? createForm(companyId, ctx) : null,
    groups.length
      ? h("div", { class: "groups" }, groups.map((g) => groupCard(g, companyId, ctx, people, manage)))
      : h("p", { class: "empty" }, manage ? "No groups yet: create the first one above." : "This company has no groups yet."));
}
