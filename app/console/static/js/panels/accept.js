// Accept an invitation: any signed-in user pastes the token an admin passed on, and joins
// that company with the invitation's role (POST /invitations/accept). The token is the
// proof, whatever the caller's address; an unknown, used, revoked or expired token (404)
// or a company the caller is already in (409) is refused in the server's words.

import { api } from "../api.js";
import { alertBox, attempt, busy, field, h, say } from "../dom.js";

export const pattern = /^\/invitations\/accept$/;
export const nav = { label: "Accept an invitation", always: true, href: () => "#/invitations/accept" };

export function title() {
  return "Accept an invitation";
}

export async function load() {
  return null;
}

export function questions() {
  return [];
}

export function render(ctx) {
  const problem = alertBox();
  const token = h("input", { name: "token", maxlength: "200", autocomplete: "off", spellcheck: "false", class: "token" });
  const submit = h("button", { type: "submit" }, "Accept invitation");
  const form = h("form", { class: "card accept", "aria-labelledby": "accept-title", novalidate: true },
    h("p", { class: "muted" }, `You join as ${ctx.me.username} (${ctx.me.email}), whatever address the invitation was sent to.`),
    field("Invitation token", token, "The one-time token an admin of the company gave you."),
    problem,
    submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = token.value.trim();
    if (!text) {
      say(problem, "Paste the token first.");
      token.focus();
      return;
    }
    busy(submit, () => attempt(problem, async () => {
      const joined = await api("POST", "/invitations/accept", { token: text });
      ctx.toast(`You joined ${joined.company_name} as ${joined.role}.`);
      ctx.navigate(`#/tickets?company=${joined.company_id}`);
    }));
  });
  return h("section", { class: "page narrow" },
    h("p", { class: "crumbs" }, h("a", { href: "#/tickets" }, "← Tickets")),
    h("h1", { id: "accept-title", tabindex: "-1" }, "Accept an invitation"),
    form);
}
