// Live updates: GET /events read with fetch (a browser's EventSource cannot send the
// Authorization header), parsed as Server-Sent Events, handed to the page one by one.
//
// The server decides what each reader may learn; this module only keeps the stream open:
// it reconnects after a network error with the last event's id (Last-Event-ID), so no
// change is missed, and stops for good when the session ends or the server has no live
// updates (503 events_unavailable: the console then works as before, by reloading).

import { session } from "./api.js";

let running = null; // {controller, token}
let lastEventId = "";

/** Follow the signed-in user's events; `onEvent({name, data})` for each. Idempotent. */
export function follow(onEvent) {
  const token = session.token;
  if (!token || running?.token === token) return;
  stop();
  const controller = new AbortController();
  running = { controller, token };
  read(token, controller.signal, onEvent);
}

/** Close the stream (on sign-out). */
export function stop() {
  running?.controller.abort();
  running = null;
  lastEventId = "";
}

async function read(token, signal, onEvent) {
  let delay = 500;
  while (!signal.aborted && session.token === token) {
    try {
      const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}` };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch("/events", { headers, signal });
      if (response.status === 503 || response.status === 401) return; // no live updates
      if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
      delay = 500;
      await parse(response.body, onEvent);
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}

async function parse(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { name: "", data: null };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a heartbeat
        const [key, ...rest] = line.split(": ");
        const value = rest.join(": ");
        if (key === "id") lastEventId = value;
        else if (key === "event") event.name = value;
        else if (key === "data") event.data = JSON.parse(value);
      }
      if (event.name) onEvent(event);
    }
  }
}
