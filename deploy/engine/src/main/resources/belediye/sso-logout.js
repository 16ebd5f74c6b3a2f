// Belediye Hizmet Takip, single sign-on (Spring profile oidc; served by SsoConfiguration).
// The header's "Oturumu kapat" (Sign out) of Tasklist, Cockpit, Admin and Welcome would only end
// the web app's own sign-in: the provider's session would sign the user straight back in. Instead
// the link posts to /logout, which ends the engine's session and answers with the provider's
// end_session_endpoint (RP-initiated logout); the browser goes there, and from there back to
// Tasklist, which asks for the password again. (A plain form post cannot follow that redirect:
// Operaton's Content-Security-Policy allows forms to post to this origin only.)
document.addEventListener(
  'click',
  event => {
    const link = event.target instanceof Element ? event.target.closest('li.logout a') : null;
    if (!link) {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    fetch('/logout', {method: 'POST', credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(response => response.json())
      .then(body => window.location.assign(body.location))
      .catch(() => window.location.reload());
  },
  true
);

export default [];
