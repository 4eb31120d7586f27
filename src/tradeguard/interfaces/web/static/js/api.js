// JSON API client for /ui/api/: session cookie + X-CSRF-Token on every POST.
let csrfToken = null;

export class ApiError extends Error {}

export async function loadCsrf() {
  const reply = await fetch("/auth/csrf", { credentials: "same-origin", cache: "no-store" });
  if (!reply.ok) throw new ApiError(`cannot get a CSRF token (HTTP ${reply.status})`);
  const body = await reply.json();
  csrfToken = body.csrf_token ?? body.data?.csrf_token ?? null;
  return csrfToken;
}

function signedOut() {
  location.assign("/login?error=expired");
  return new ApiError("signed out");
}

export async function api(path, { method = "GET", body, retried = false } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") {
    headers["X-CSRF-Token"] = csrfToken ?? (await loadCsrf());
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  let reply;
  try {
    reply = await fetch(`/ui/api/${path}`, init);
  } catch (err) {
    throw new ApiError("tradeguard is unreachable (network error)");
  }
  if (reply.status === 401) throw signedOut();
  let payload = null;
  try {
    payload = await reply.json();
  } catch (err) {
    throw new ApiError(`unexpected reply (HTTP ${reply.status})`);
  }
  if (reply.status === 403 && !retried && /csrf/i.test(payload?.message ?? "")) {
    csrfToken = null; // token rotated (e.g. new session): fetch a fresh one and retry once
    return api(path, { method, body, retried: true });
  }
  if (!reply.ok || payload?.status !== "success") {
    throw new ApiError(payload?.message || `request failed (HTTP ${reply.status})`);
  }
  return payload.data;
}

export async function logout() {
  try {
    const token = csrfToken ?? (await loadCsrf());
    await fetch("/auth/logout", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf_token: token }),
      redirect: "manual",
    });
  } finally {
    location.assign("/login");
  }
}
