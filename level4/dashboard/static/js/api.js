// The HTTP API, with the bearer token when the service has one.

import { $ } from "./dom.js";

const TOKEN_KEY = "level4.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// One dialog at a time: whoever asks while it is open waits for the same answer.
let pending = null;

export function askToken(why) {
  if (pending) return pending;
  const dialog = $("#token-dialog");
  const input = $("#token-input");
  $("#token-why").textContent = why;
  input.value = token();
  pending = new Promise((resolve) => {
    const finish = (value) => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      input.removeEventListener("keydown", onKey);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      pending = null;
      if (value !== null) setToken(value);
      resolve(value);
    };
    const ok = $("#token-ok");
    const cancel = $("#token-cancel");
    const onOk = () => finish(input.value.trim());
    const onCancel = (event) => {
      if (event) event.preventDefault();
      finish(null);
    };
    const onKey = (event) => {
      if (event.key === "Enter") onOk();
    };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    input.addEventListener("keydown", onKey);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
  return pending;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return response;
}

export async function getJSON(path) {
  const response = await request("GET", path);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function getText(path) {
  const response = await fetch(path, { headers: { Accept: "text/plain" } });
  if (!response.ok) throw new ApiError(response.status, null);
  return response.text();
}

// A mutating request: a 401 asks for the token and tries once more with it.
export async function send(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await request(method, path, body);
    const answer = await response.json().catch(() => null);
    if (response.ok) return answer;
    if (response.status === 401 && attempt === 0) {
      const why = token() ? "The token was refused; enter the right one." : "Switching feeds needs the API token.";
      if ((await askToken(why)) === null) throw new ApiError(401, answer);
      continue;
    }
    throw new ApiError(response.status, answer);
  }
  throw new ApiError(401, null);
}
