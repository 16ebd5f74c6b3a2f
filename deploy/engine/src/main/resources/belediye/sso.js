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

// 3. A web app left open past the end of its session: its next call gets 401 and it shows
// Operaton's own login view (#/login), whose password form single sign-on refuses. Instead, when
// the engine confirms the session is gone, the tab goes back to the app's address with the view it
// was on: the engine sends it to the provider (which signs it straight in while its own session
// lives) and step 1 brings the view back. With the session still there (an app the user may not
// open) the login view stays, so the tab never bounces between the two.
const LOGIN_VIEW = /^#\/login(?:[?/]|$)/;
let lastView = LOGIN_VIEW.test(window.location.hash) ? '' : window.location.hash;
let leaving = false; // one navigation, however many calls the app makes on its way to #/login

function signInAgainIfTheSessionEnded() {
  const engine = (window.location.pathname.match(/\/app\/[^/]+\/([^/]+)/) || [])[1] || 'default';
  fetch(`/operaton/api/admin/auth/user/${engine}`, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
    .then(response => {
      if (response.status === 401 && !leaving) {
        leaving = true;
        window.location.assign(window.location.pathname + lastView);
      }
    })
    .catch(() => undefined);
}

window.addEventListener('hashchange', () => {
  if (LOGIN_VIEW.test(window.location.hash)) {
    signInAgainIfTheSessionEnded();
  } else {
    lastView = window.location.hash;
  }
});
if (LOGIN_VIEW.test(window.location.hash)) {
  signInAgainIfTheSessionEnded();
}

export default [];
