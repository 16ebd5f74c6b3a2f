// Belediye Hizmet Takip: without single sign-on (no Spring profile oidc) the web apps' sign-out is
// Operaton's own; with it, SsoConfiguration serves the script of this name (belediye/sso.js).
export default [];
