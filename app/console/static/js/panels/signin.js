// Sign in with email and password (POST /auth/login), and in development one click per
// demo persona: GET /dev/personas exists only when the API runs with ENVIRONMENT=development
// and lists the seeded accounts with their roles as the database has them.

import { ApiError, api } from "../api.js";
import { alertBox, busy, field, h, say } from "../dom.js";

async function signIn(email, password) {
  const answer = await api("POST", "/auth/login", { email, password });
  return answer.access_token;
}

async function demoPersonas() {
  try {
    return await api("GET", "/dev/personas");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null; // not development
    throw error;
  }
}

function personaList(demo, onSignedIn, problem) {
  if (!demo || demo.personas.length === 0) return null;
  return h("section", { class: "card personas", "aria-labelledby": "personas-title" },
    h("h2", { id: "personas-title" }, "Demo personas"),
    h("p", { class: "muted" },
      "Development mode: sign in as a seeded persona in one click (password ",
      h("code", {}, demo.password), ")."),
    h("ul", { class: "persona-list" }, demo.personas.map((persona) => {
      const roles = persona.memberships.map((m) => `${m.company_name}: ${m.role}`).join("; ");
      const button = h("button", {
        type: "button",
        class: "persona",
        "data-persona": persona.email,
        onclick: () => busy(button, async () => {
          say(problem, "");
          try {
            onSignedIn(await signIn(persona.email, demo.password));
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            say(problem, error.message);
          }
        }),
      },
      h("span", { class: "persona-name" }, persona.name),
      h("span", { class: "persona-roles" }, roles || "no company"),
      h("span", { class: "persona-email" }, persona.email));
      return h("li", {}, button);
    })));
}

/** The sign-in page. */
export async function render({ onSignedIn, flash }) {
  const problem = alertBox();
  const email = h("input", { name: "email", type: "email", autocomplete: "username", required: true, spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "card signin-form", "aria-labelledby": "signin-title", novalidate: false },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in"),
    flash ? h("p", { class: "notice" }, flash) : null,
    field("Email", email),
    field("Password", password),
    problem,
    submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      say(problem, "");
      try {
        onSignedIn(await signIn(email.value.trim(), password.value));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say(problem, error.message);
        password.select();
      }
    });
  });
  const demo = await demoPersonas().catch(() => null);
  return h("div", { class: "signin" },
    h("div", { class: "signin-intro" },
      h("p", { class: "eyebrow" }, "Ticketing console"),
      h("p", { class: "lede" },
        "Work the tickets of your companies. What you may do on each page is asked of the ",
        "authorization engine, so each persona sees a different console."),
      h("p", { class: "muted" }, "The JSON API and its documentation: ", h("a", { href: "/docs" }, "/docs"), ".")),
    form,
    personaList(demo, onSignedIn, problem));
}
