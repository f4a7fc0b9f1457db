// Building the page from data without ever parsing data as HTML: every text goes in through
// textContent, so a ticket subject such as "<img onerror=...>" stays text.

import { ApiError } from "./api.js";

/** An element: h("button", {type: "submit", onclick: f}, "Save"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace everything inside `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A select whose options are [value, label] pairs. */
export function select(attrs, options, selected) {
  return h(
    "select",
    attrs,
    options.map(([value, label, extra = {}]) =>
      h("option", { value, selected: value === selected, ...extra }, label),
    ),
  );
}

/** A labelled control: the label wraps its text and the control, so each names the other. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control,
    hint ? h("span", { class: "field-hint" }, hint) : null);
}

/** A region that announces the server's refusal to screen readers. */
export function alertBox() {
  return h("p", { class: "alert", role: "alert", hidden: true });
}

/** Show `message` in an alert box, or hide it when there is none. */
export function say(box, message) {
  box.textContent = message || "";
  box.hidden = !message;
}

/** Run `work`; a refusal from the server is shown in `box` in the server's own words. */
export async function attempt(box, work) {
  say(box, "");
  try {
    await work();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    say(box, error.message);
  }
}

/** A spinner line for loading states. */
export function loading(text) {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A timestamp from the API, readable, in a <time> element. */
export function when(iso) {
  const date = new Date(iso);
  return h("time", { datetime: iso }, dateTime.format(date));
}

/** Disable a button while `work` runs, so a double click sends nothing twice. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
