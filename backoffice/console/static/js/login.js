// The login form: POST /api/v1/auth/session sets the session cookies.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const response = await fetch("/api/v1/auth/session", {
    method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(form)),
  });
  if (response.ok) {
    location.assign(form.dataset.next || "/");
    return;
  }
  let text = "Wrong username or password.";
  if (response.status === 429) text = "Too many failed attempts; wait and try again.";
  else if (response.status >= 500) text = "The server cannot log you in now; try again.";
  else if (response.status === 422) text = "Enter your username and password.";
  error.textContent = text;
  error.hidden = false;
  document.getElementById("password").focus();
});
