// Login page: fetch a CSRF token into the form, show why a previous attempt failed.
const MESSAGES = {
  "1": "Wrong username or password.",
  locked: "Too many failed sign-ins: this account is locked for a while. Try again later.",
  csrf: "Your sign-in form expired. Please try again.",
  expired: "Your session expired. Please sign in again.",
};

function showError(text) {
  const box = document.getElementById("login-error");
  document.getElementById("login-error-text").textContent = text;
  box.classList.remove("hidden");
}

const params = new URLSearchParams(location.search);
const error = params.get("error");
if (error) showError(MESSAGES[error] || "Sign-in failed. Please try again.");

async function loadToken() {
  const button = document.getElementById("login-submit");
  try {
    const reply = await fetch("/auth/csrf", { credentials: "same-origin", cache: "no-store" });
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
    const body = await reply.json();
    const token = body.csrf_token ?? body.data?.csrf_token;
    if (!token) throw new Error("no token");
    document.getElementById("csrf_token").value = token;
    button.disabled = false;
  } catch (err) {
    showError("Cannot reach tradeguard right now. Reload the page to try again.");
  }
}

document.getElementById("login-form").addEventListener("submit", () => {
  document.getElementById("login-spinner").classList.remove("hidden");
  document.getElementById("login-submit").classList.add("btn-disabled");
});

loadToken();
