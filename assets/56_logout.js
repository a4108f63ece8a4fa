// The header's log-out button: POST /logout with the CSRF token (a cookie Dash keeps fresh), then start over.
// A plain form would need the token in the page, and the header is built once for everyone.
document.addEventListener("click", async function (event) {
  if (!event.target.closest(".logout")) {
    return;
  }
  const token = document.cookie.split("; ").find(c => c.startsWith("_csrf_token="));
  await fetch("/logout", {method: "POST", credentials: "same-origin",
                          headers: {"X-CSRFToken": token ? decodeURIComponent(token.split("=")[1]) : ""}});
  window.location.assign("/");
});
