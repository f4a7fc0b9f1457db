// The JSON API, as the console calls it: a bearer token from the session, and every refusal
// turned into an ApiError carrying the server's own `detail` for the page to show.

const TOKEN_KEY = "ticketing.console.token";

/** A refusal or failure, with the server's reason as its message. */
export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

// sessionStorage: the token lives as long as the tab, and is never sent anywhere by the
// browser on its own (the API reads it only from the Authorization header, so no CSRF).
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  start(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  end() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

let onSessionLost = () => {};

/** Called when the server stops accepting the token (expired, account deleted). */
export function whenSessionLost(callback) {
  onSessionLost = callback;
}

/** Call the API; resolves to the parsed body (null for 204), rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The API did not answer: is it running?", "network");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  if (response.status === 401 && token) {
    session.end();
    onSessionLost(readable(data, response));
  }
  throw new ApiError(response.status, readable(data, response), data?.code);
}

/** The server's `detail` as one sentence: a string as is, a 422's field errors joined. */
function readable(data, response) {
  const detail = data?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((e) => {
        const where = (e.loc || []).filter((part) => part !== "body").join(".");
        return where ? `${where}: ${e.msg}` : e.msg;
      })
      .join("; ");
  }
  return `${response.status} ${response.statusText}`.trim();
}

/** A query string from the non-empty entries of `params`. */
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return entries.length ? `?${new URLSearchParams(entries)}` : "";
}
