package belediye.engine;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.List;
import java.util.Objects;
import org.operaton.bpm.engine.ProcessEngine;
import org.operaton.bpm.engine.rest.security.auth.AuthenticationResult;
import org.operaton.bpm.engine.rest.security.auth.impl.HttpBasicAuthenticationProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtDecoder;
import org.springframework.security.oauth2.jwt.JwtException;

/**
 * The REST API's authentication (RestAuthentication): HTTP Basic for the engine's own users (the
 * API's and workers' service user, the break-glass administrator) and, with single sign-on
 * (profile {@code oidc}), the identity provider's bearer tokens for staff, so that no member of
 * staff needs an engine password. A token is checked by the provider's keys, issuer, expiry and
 * audience; the engine user and groups come from the same claims as the web apps' sign-in.
 *
 * <p>Operaton makes this class by reflection, so {@link SsoConfiguration} hands it the decoder.
 */
public class TokenOrPasswordAuthentication extends HttpBasicAuthenticationProvider {

  private static final Logger log = LoggerFactory.getLogger(TokenOrPasswordAuthentication.class);
  private static final String BEARER = "Bearer ";

  record Tokens(JwtDecoder decoder, String usernameClaim, String groupsClaim) {}

  private static volatile Tokens tokens;

  static void acceptTokens(Tokens accepted) {
    tokens = accepted;
  }

  @Override
  public AuthenticationResult extractAuthenticatedUser(HttpServletRequest request, ProcessEngine engine) {
    String header = request.getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return super.extractAuthenticatedUser(request, engine);
    }
    Tokens accepted = tokens;
    if (accepted == null) { // no single sign-on: passwords only
      return AuthenticationResult.unsuccessful();
    }
    try {
      Jwt jwt = accepted.decoder().decode(header.substring(BEARER.length()).trim());
      String userId = jwt.getClaimAsString(accepted.usernameClaim());
      if (userId == null || userId.isBlank()) {
        log.warn("REST bearer token refused: no {} claim", accepted.usernameClaim());
        return AuthenticationResult.unsuccessful();
      }
      AuthenticationResult result = AuthenticationResult.successful(userId);
      result.setGroups(List.copyOf(Objects.requireNonNullElse(jwt.getClaimAsStringList(accepted.groupsClaim()), List.of())));
      return result;
    } catch (JwtException refused) {
      log.info("REST bearer token refused: {}", refused.getMessage());
      return AuthenticationResult.unsuccessful();
    }
  }

  @Override
  public void augmentResponseByAuthenticationChallenge(HttpServletResponse response, ProcessEngine engine) {
    super.augmentResponseByAuthenticationChallenge(response, engine);
    if (tokens != null) {
      response.addHeader("WWW-Authenticate", "Bearer realm=\"" + engine.getName() + "\"");
    }
  }
}
