// Belediye Hizmet Takip, single sign-on (Spring profile oidc; served by SsoConfiguration to
// Tasklist, Cockpit, Admin and Welcome, whose config.js loads it as a custom script).

// 1. The view the address named before the sign-in (…/tasklist/default/#/?task=…, a mail's link):
// the provider's sign-in form drops the fragment, so the engine's sign-in page
// (SsoConfiguration.SignInKeepingTheFragment) kept it for this tab.
const fragment = sessionStorage.getItem('belediye.sso.fragment');
if (fragment) {
  sessionStorage.removeItem('belediye.sso.fragment');
  if (window.location.hash.length <= 2) {
    window.location.hash = fragment;
  }
}

// 2. The header's "Oturumu kapat" (Sign out) would only end the web app's own sign-in: the
// provider's session would sign the user straight back in. Instead the link posts to /logout,
// which ends the engine's session and answers with the provider's end_session_endpoint
// (RP-initiated logout); the browser goes there, and from there back to Tasklist, which asks for
// the password again. (A plain form post cannot follow that redirect: Operaton's
// Content-Security-Policy lets forms post to this origin only.)
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
