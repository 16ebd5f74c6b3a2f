package belediye.engine;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.List;
import org.operaton.bpm.engine.ProcessEngine;
import org.operaton.bpm.engine.rest.security.auth.AuthenticationProvider;
import org.operaton.bpm.engine.rest.security.auth.AuthenticationResult;
import org.springframework.security.authentication.AnonymousAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.oauth2.client.authentication.OAuth2AuthenticationToken;

/**
 * Who the web apps' request is from, for Operaton's ContainerBasedAuthenticationFilter (profile
 * {@code oidc}, see SsoConfiguration): the principal Spring Security has signed in.
 *
 * <p>A single sign-on user brings the groups of the token (authorities SsoConfiguration made of the
 * groups claim); Operaton then uses exactly those for candidate groups and authorizations instead
 * of the engine's memberships. The break-glass administrator (password on /login) keeps the
 * engine's memberships (groups left null).
 *
 * <p>Operaton instantiates this class by name, so it has no Spring dependencies injected.
 */
public class SsoAuthenticationProvider implements AuthenticationProvider {

  @Override
  public AuthenticationResult extractAuthenticatedUser(HttpServletRequest request, ProcessEngine engine) {
    Authentication signedIn = SecurityContextHolder.getContext().getAuthentication();
    if (signedIn == null || !signedIn.isAuthenticated() || signedIn instanceof AnonymousAuthenticationToken) {
      return AuthenticationResult.unsuccessful();
    }
    AuthenticationResult result = AuthenticationResult.successful(signedIn.getName());
    if (signedIn instanceof OAuth2AuthenticationToken) {
      List<String> groups = signedIn.getAuthorities().stream()
          .map(GrantedAuthority::getAuthority)
          .filter(name -> name.startsWith(SsoConfiguration.GROUP_AUTHORITY_PREFIX))
          .map(name -> name.substring(SsoConfiguration.GROUP_AUTHORITY_PREFIX.length()))
          .toList();
      result.setGroups(groups);
    }
    return result;
  }

  @Override
  public void augmentResponseByAuthenticationChallenge(HttpServletResponse response, ProcessEngine engine) {
    // Spring Security has already answered an unauthenticated request (provider or 401).
  }
}
