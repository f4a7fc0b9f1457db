// A company's invitations (members:add, the permission behind them): offer a role to an
// email address, see what became of each offer, revoke one still pending. The one-time
// token comes back once, in the answer to the creation: the page shows it until the admin
// leaves, and never again (the server keeps only its hash).

import { api } from "../api.js";
import { question } from "../authz.js";
import { alertBox, attempt, busy, field, h, replace, say, select, when } from "../dom.js";
import { ROLES, label } from "../labels.js";
import { People } from "../people.js";

export const pattern = /^\/companies\/([^/]+)\/invitations$/;
export const nav = {
  label: "Invitations",
  permission: "members:add",
  href: (companyId) => `#/companies/${companyId}/invitations`,
};

const STATES = [
  ["pending", "Pending"],
  ["accepted", "Accepted"],
  ["revoked", "Revoked"],
  ["expired", "Expired"],
];

export function title(ctx) {
  return `Invitations to ${ctx.companies.get(ctx.params[0])?.company_name ?? "a company"}`;
}

function fetchList(companyId) {
  return api("GET", `/companies/${encodeURIComponent(companyId)}/invitations`);
}

export function load(ctx) {
  return fetchList(ctx.params[0]);
}

export function questions(ctx) {
  const companyId = ctx.params[0];
  return ["members:add", "members:list"].map((p) => question(p, { companyId }));
}

/** The token of a new invitation, selectable, with a button that copies it. */
function tokenBox(invitation, ctx) {
  const token = h("input", { name: "token", value: invitation.token, readonly: true, spellcheck: "false", class: "token" });
  const copy = h("button", { type: "button", class: "secondary small" }, "Copy token");
  const hint = h("p", { class: "field-hint", role: "status" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(invitation.token);
      ctx.toast("Token copied.");
    } catch {
      token.select(); // the clipboard is not ours here (permissions): the keyboard's is
      hint.textContent = "The browser did not allow copying: the token is selected, press Ctrl+C (⌘C).";
    }
  });
  token.addEventListener("focus", () => token.select());
  return h("div", { class: "token-box", "aria-labelledby": "token-title", role: "region" },
    h("h3", { id: "token-title" }, `Invitation for ${invitation.email} as ${invitation.role}`),
    h("p", {}, "Pass this token on to them; they accept it signed in, under ",
      h("strong", {}, "Accept an invitation"), ". It is shown this once: the server keeps only its hash."),
    h("div", { class: "row" }, field("One-time token", token), copy),
    hint,
    h("p", { class: "muted" }, "Valid until ", when(invitation.expires_at), "."));
}

function createForm(companyId, ctx, showList) {
  const problem = alertBox();
  const created = h("div", { class: "created" });
  const email = h("input", { name: "email", type: "email", autocomplete: "off", maxlength: "254" });
  const role = select({ name: "role" }, ROLES, "agent");
  const submit = h("button", { type: "submit", "data-action": "members:add" }, "Create invitation");
  const form = h("form", { class: "card add-member invite", "aria-labelledby": "invite-title", novalidate: true },
    h("h2", { id: "invite-title" }, "Invite someone"),
    h("p", { class: "muted" }, "For a person who may have no account yet: whoever holds the token joins with this role, once."),
    h("div", { class: "row" }, field("Email", email), field("Role", role), submit),
    problem,
    created);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => attempt(problem, async () => {
      replace(created);
      const invitation = await api("POST", `/companies/${companyId}/invitations`, { email: email.value.trim(), role: role.value });
      replace(created, tokenBox(invitation, ctx));
      email.value = "";
      created.querySelector("input[name=token]").focus();
      await showList();
    }));
  });
  return form;
}

function invitationRow(invitation, companyId, ctx, people, showList) {
  const problem = alertBox();
  const cells = [
    h("td", { class: "email" }, invitation.email),
    h("td", {}, h("span", { class: `badge role-${invitation.role}` }, invitation.role)),
    h("td", {}, h("span", { class: `badge invitation-${invitation.status}` }, label(STATES, invitation.status)),
      invitation.accepted_by ? h("span", { class: "muted" }, ` by ${people.name(invitation.accepted_by)}`) : null),
    h("td", {}, people.name(invitation.created_by), h("br"), h("span", { class: "muted" }, when(invitation.created_at))),
    h("td", {}, when(invitation.expires_at)),
  ];
  const actions = h("td", {});
  if (invitation.status === "pending") {
    const revoke = h("button", { type: "button", class: "danger secondary small", "data-action": "members:add", "data-variant": "revoke" }, "Revoke");
    const sure = h("button", { type: "button", class: "danger small", hidden: true }, `Revoke for ${invitation.email}`);
    revoke.addEventListener("click", () => {
      sure.hidden = false;
      revoke.hidden = true;
      sure.focus();
    });
    sure.addEventListener("click", () => busy(sure, () => attempt(problem, async () => {
      try {
        await api("DELETE", `/companies/${companyId}/invitations/${invitation.id}`);
      } finally {
        sure.hidden = true;
        revoke.hidden = false;
      }
      ctx.toast(`Invitation for ${invitation.email} revoked.`);
      await showList();
    })));
    actions.append(revoke, sure);
  }
  cells.push(actions);
  return [
    h("tr", { "data-invitation-id": invitation.id }, cells),
    h("tr", { class: "row-problem" }, h("td", { colspan: String(cells.length) }, problem)),
  ];
}

export async function render(ctx, firstList, answers) {
  const companyId = ctx.params[0];
  const people = await new People(ctx.me).load([companyId], answers);
  const problem = alertBox();
  const body = h("tbody", {});
  const table = h("div", { class: "table-wrap" },
    h("table", { class: "invitations" },
      h("caption", { class: "visually-hidden" }, title(ctx)),
      h("thead", {}, h("tr", {}, ["Email", "Role", "Status", "Invited by", "Expires", h("span", { class: "visually-hidden" }, "Revoke")]
        .map((x) => h("th", { scope: "col" }, x)))),
      body));
  const empty = h("p", { class: "empty" }, "No invitations yet.");

  function show(list) {
    replace(body, list.map((i) => invitationRow(i, companyId, ctx, people, showList)));
    table.hidden = list.length === 0;
    empty.hidden = list.length > 0;
  }
  // After a change, the list again without leaving the page: a token just shown stays.
  async function showList() {
    say(problem, "");
    await attempt(problem, async () => show(await fetchList(companyId)));
  }
  show(firstList);

  return h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title(ctx))),
    answers.allows("members:add", companyId) ? createForm(companyId, ctx, showList) : null,
    problem, empty, table);
}
